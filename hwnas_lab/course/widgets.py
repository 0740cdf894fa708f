"""The shared base of the notebooks' interactive panels (ipywidgets).

Each panel is a thin shell around a plain function that does the work (``compute``), so
the function is unit-tested and a notebook without a widget frontend can call it
directly. ``StagePanel`` holds the sliders most panels share: per stage the depth ``d``,
the kernel size ``ks`` and the expand ratio ``e`` (applied to every block of the stage),
and the input resolution ``r``; subclasses say what to show for them. A panel can keep
the history of the subnets visited (``course.history``) and draw it as a scatter with
its Pareto front under the sliders. The encoding is Once-for-All's (Cai et al., ICLR
2020); see ``hwnas_lab.arch``.

ipywidgets is imported when a panel is built, so the rest of the package imports without it.
"""

from __future__ import annotations

import html
from typing import Sequence

from ..arch import Arch
from ..space import SearchSpace, get_space
from .history import History


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
    Each stage is one row: a label with the stage's width and stride, then short sliders
    ``d``, ``ks``, ``e`` (labels that fit JupyterLab's slider description).

    With ``history=True`` and a subclass that defines ``history_axes`` (the keyword
    arguments of ``course.history.History``) and ``history_point(result)`` (``(x, y)``),
    every subnet visited is kept in ``panel.history`` and drawn as a scatter with its
    Pareto front under the sliders.
    """

    errors: tuple[type[Exception], ...] = (ValueError,)  # shown in the panel, not raised
    history_axes: dict | None = None  # History(**history_axes); None: no history possible
    label_width = "150px"  # the stage label column
    slider_width = "190px"

    def __init__(self, space: SearchSpace | str, title: str, history: bool = False):
        import ipywidgets as W

        self.space = s = get_space(space)
        if history and self.history_axes is None:
            raise ValueError(f"{type(self).__name__} keeps no history: it defines no "
                             "history_axes / history_point")
        self.history = History(**self.history_axes) if history else None

        def slider(label: str, choices: Sequence[int], value: int) -> "W.SelectionSlider":
            return W.SelectionSlider(options=list(choices), value=value, description=label,
                                     continuous_update=False,
                                     layout=W.Layout(width=self.slider_width),
                                     style={"description_width": "28px"})

        mid = lambda choices: choices[len(choices) // 2]  # noqa: E731 - start in the middle
        self.d = [slider("d", s.d_choices, mid(s.d_choices)) for _ in range(s.n_stages)]
        self.ks = [slider("ks", s.ks_choices, mid(s.ks_choices)) for _ in range(s.n_stages)]
        self.e = [slider("e", s.e_choices, mid(s.e_choices)) for _ in range(s.n_stages)]
        self.r = slider("r", s.r_choices, max(s.r_choices))
        self.labels = [W.HTML(f"<b>stage {i + 1}</b> &middot; {s.stage_widths[i]} ch &middot; "
                              f"stride {s.stage_strides[i]}",
                              layout=W.Layout(width=self.label_width))
                       for i in range(s.n_stages)]
        self.out = W.HTML()
        rows = [W.HBox([self.labels[i], self.d[i], self.ks[i], self.e[i]])
                for i in range(s.n_stages)]
        r_row = W.HBox([W.HTML("<b>input</b> resolution", layout=W.Layout(width=self.label_width)),
                        self.r])
        children = [W.HTML(title), *rows, r_row, self.out]
        self.plot = None
        if self.history is not None:
            self.plot = W.Image(format="png")
            children.append(self.plot)
        self.widget = W.VBox(children)
        for w in (*self.d, *self.ks, *self.e, self.r):
            w.observe(self.update, names="value")
        self.result = None
        self.update()

    def values(self) -> dict:
        """The slider values as keyword arguments: ``d``, ``ks``, ``e`` (per stage) and ``r``."""
        return {"d": [w.value for w in self.d], "ks": [w.value for w in self.ks],
                "e": [w.value for w in self.e], "r": self.r.value}

    def set_values(self, d=None, ks=None, e=None, r=None) -> None:
        """Move the sliders (one recomputation in all, not one per slider); values the
        sliders do not offer raise ValueError."""
        for name, values in (("d", d), ("ks", ks), ("e", e)):
            if values is not None and len(values) != self.space.n_stages:
                raise ValueError(f"{name} needs one value per stage ({self.space.n_stages}), "
                                 f"got {list(values)}")
        updates = [(w, v) for widgets, values in ((self.d, d), (self.ks, ks), (self.e, e))
                   for w, v in zip(widgets, values or [])]
        if r is not None:
            updates.append((self.r, r))
        for w, _ in updates:
            w.unobserve(self.update, names="value")
        try:
            for w, v in updates:
                w.value = v
        finally:
            for w, _ in updates:
                w.observe(self.update, names="value")
        self.update()

    def compute(self, d: list[int], ks: list[int], e: list[int], r: int):
        raise NotImplementedError(f"{type(self).__name__} must implement compute()")

    def history_point(self, result) -> tuple[float, float] | None:
        """``(x, y)`` of a result for the history scatter (subclasses with history_axes)."""
        raise NotImplementedError(f"{type(self).__name__} must implement history_point()")

    def update(self, change: dict | None = None) -> None:
        """Recompute and show the result (the sliders' callback)."""
        try:
            self.result = self.compute(**self.values())
            self.out.value = self.result.html()
        except self.errors as err:
            self.out.value = error_html(err)
            return
        if self.history is not None:
            point = self.history_point(self.result)
            if point is not None:
                self.history.add(*point, label=str(self.result.arch))
                self.plot.value = self.history.png()

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)
