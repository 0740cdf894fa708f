"""The shared panel base: stage_arch and StagePanel (sliders wired to compute())."""

import pytest

from hwnas_lab.course.widgets import StagePanel, stage_arch
from hwnas_lab.space import SPACES

CPU = SPACES["cpu"]


def test_stage_arch_applies_choice_to_every_slot_of_a_stage():
    arch = stage_arch(CPU, d=[2, 3, 4, 2], ks=[3, 5, 7, 3], e=[6, 4, 3, 6], r=28)
    D = CPU.max_depth
    for stage, (k, x) in enumerate(zip([3, 5, 7, 3], [6, 4, 3, 6])):
        assert arch.ks[stage * D:(stage + 1) * D] == (k,) * D
        assert arch.e[stage * D:(stage + 1) * D] == (x,) * D
    assert arch.d == (2, 3, 4, 2) and arch.r == 28
    blocks = list(arch.active_blocks())
    assert len(blocks) == 11 and blocks[2] == (1, 0, 5, 4)


def test_stage_arch_rejects_bad_input():
    with pytest.raises(ValueError, match="one value per stage"):
        stage_arch(CPU, d=[2, 3], ks=[3] * 4, e=[3] * 4, r=32)
    with pytest.raises(ValueError, match=r"Arch.ks\[0\] = 4"):
        stage_arch(CPU, d=[2] * 4, ks=[4] * 4, e=[3] * 4, r=32)
    with pytest.raises(ValueError, match="Arch.r = 30"):
        stage_arch(CPU, d=[2] * 4, ks=[3] * 4, e=[3] * 4, r=30)




class EchoPanel(StagePanel):
    """Shows the arch it was given; fails for resolution 24 (an error shown in the panel)."""

    class Result:
        def __init__(self, arch):
            self.arch = arch

        def html(self):
            return f"<b>{self.arch}</b>"

    def compute(self, d, ks, e, r):
        if r == 24:
            raise ValueError("no 24 px <here>")
        return self.Result(stage_arch(self.space, d, ks, e, r))


def test_stage_panel_recomputes_on_change_and_shows_errors():
    panel = EchoPanel(CPU, "title")
    assert panel.result.arch.r == 32 and panel.out.value == f"<b>{panel.result.arch}</b>"
    panel.d[1].value = 4
    assert panel.result.arch.d[1] == 4
    panel.r.value = 24
    assert "no 24 px &lt;here&gt;" in panel.out.value and panel.result.arch.r == 32
    assert len(panel.widget.children) == 2 + CPU.n_stages + 1  # title, rows, r, output
    assert panel.history is None


def test_slider_labels_fit_and_each_stage_row_says_which_stage():
    panel = EchoPanel(CPU, "title")
    sliders = [*panel.d, *panel.ks, *panel.e, panel.r]
    # a JupyterLab slider cuts descriptions wider than description_width: keep them short
    assert {w.description for w in sliders} == {"d", "ks", "e", "r"}
    assert all(w.style.description_width == "28px" for w in sliders)
    for i, row in enumerate(panel.widget.children[1:1 + CPU.n_stages]):
        label, d, ks, e = row.children
        assert (d, ks, e) == (panel.d[i], panel.ks[i], panel.e[i])
        assert f"stage {i + 1}" in label.value and f"{CPU.stage_widths[i]} ch" in label.value
        assert f"stride {CPU.stage_strides[i]}" in label.value


def test_set_values_moves_sliders_with_one_recomputation():
    calls = []

    class Counting(EchoPanel):
        def compute(self, d, ks, e, r):
            calls.append((d, ks, e, r))
            return super().compute(d, ks, e, r)

    panel = Counting(CPU, "title")
    panel.set_values(d=[2, 3, 4, 2], ks=[3, 5, 7, 3], e=[6, 4, 3, 6], r=28)
    assert len(calls) == 2 and panel.result.arch == stage_arch(CPU, [2, 3, 4, 2], [3, 5, 7, 3],
                                                               [6, 4, 3, 6], 28)
    panel.d[0].value = 3  # the sliders still react afterwards
    assert len(calls) == 3
    with pytest.raises(ValueError, match="one value per stage"):
        panel.set_values(ks=[3])


def test_a_panel_without_history_axes_refuses_history():
    with pytest.raises(ValueError, match="keeps no history"):
        EchoPanel(CPU, "title", history=True)
