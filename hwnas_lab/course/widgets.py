"""The shared base of the notebooks' interactive panels (ipywidgets).

Each panel is a thin shell around a plain function that does the work (``compute``), so
the function is unit-tested and a notebook without a widget frontend can call it
directly. ``StagePanel`` holds the sliders most panels share: per stage the depth ``d``,
the kernel size ``ks`` and the expand ratio ``e`` (applied to every block of the stage),
and the input resolution ``r``; subclasses say what to show for them. The encoding is
Once-for-All's (Cai et al., ICLR 2020); see ``hwnas_lab.arch``.

ipywidgets is imported when a panel is built, so the rest of the package imports without it.
"""

from __future__ import annotations

import html
from typing import Sequence

from ..arch import Arch
from ..space import SearchSpace, get_space


def stage_arch(space: SearchSpace | str, d: Sequence[int], ks: Sequence[int], e: Sequence[int],
               r: int) -> Arch:
    """The ``Arch`` with per-stage depth ``d``, and ``ks[s]``, ``e[s]`` in every slot of stage s."""
    space = get_space(space)
    for name, values in (("d", d), ("ks", ks), ("e", e)):
        if len(values) != space.n_stages:
            raise ValueError(f"{name} needs one value per stage ({space.n_stages} for space "
                             f"{space.name!r}), got {list(values)}")
    D = space.max_depth
    return Arch(ks=[k for k in ks for _ in range(D)], e=[x for x in e for _ in range(D)],
                d=list(d), r=r).validate(space)


def error_html(err: Exception) -> str:
    """An error shown inside a panel rather than lost in a callback."""
    return f"<span style='color:#b00'>{html.escape(str(err))}</span>"


class StagePanel:
    """Sliders for ``d``, ``ks``, ``e`` per stage and ``r``; shows ``self.compute(**values)``.

    Subclasses implement ``compute(d, ks, e, r)`` returning an object with ``html()``;
    ``panel.result`` is the last one, ``panel.widget`` the ipywidgets box to display.
    Sliders update on release (not while dragging), as an update may measure or evaluate.
    """

    errors: tuple[type[Exception], ...] = (ValueError,)  # shown in the panel, not raised

    def __init__(self, space: SearchSpace | str, title: str):
        import ipywidgets as W

        self.space = s = get_space(space)

        def slider(label: str, choices: Sequence[int], value: int) -> "W.SelectionSlider":
            return W.SelectionSlider(options=list(choices), value=value, description=label,
                                     continuous_update=False, layout=W.Layout(width="230px"),
                                     style={"description_width": "initial"})

        mid = lambda choices: choices[len(choices) // 2]  # noqa: E731 - start in the middle
        self.d = [slider(f"stage {i + 1} depth d", s.d_choices, mid(s.d_choices))
                  for i in range(s.n_stages)]
        self.ks = [slider("kernel ks", s.ks_choices, mid(s.ks_choices)) for _ in range(s.n_stages)]
        self.e = [slider("expand e", s.e_choices, mid(s.e_choices)) for _ in range(s.n_stages)]
        self.r = slider("resolution r", s.r_choices, max(s.r_choices))
        self.out = W.HTML()
        rows = [W.HBox([self.d[i], self.ks[i], self.e[i]]) for i in range(s.n_stages)]
        self.widget = W.VBox([W.HTML(title), *rows, self.r, self.out])
        for w in (*self.d, *self.ks, *self.e, self.r):
            w.observe(self.update, names="value")
        self.result = None
        self.update()

    def values(self) -> dict:
        """The slider values as keyword arguments: ``d``, ``ks``, ``e`` (per stage) and ``r``."""
        return {"d": [w.value for w in self.d], "ks": [w.value for w in self.ks],
                "e": [w.value for w in self.e], "r": self.r.value}

    def compute(self, d: list[int], ks: list[int], e: list[int], r: int):
        raise NotImplementedError(f"{type(self).__name__} must implement compute()")

    def update(self, change: dict | None = None) -> None:
        """Recompute and show the result (the sliders' callback)."""
        try:
            self.result = self.compute(**self.values())
            self.out.value = self.result.html()
        except self.errors as err:
            self.out.value = error_html(err)

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)
