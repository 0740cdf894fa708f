"""Notebook 03's figures and reward panel (its checks: test_nb03_checks.py)."""

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from hwnas_lab.course import nb03_mnas as nb  # noqa: E402
from hwnas_lab.mnas import ControllerConfig, reinforce_search, reward_best  # noqa: E402
from hwnas_lab.space import get_space  # noqa: E402


# ----- figures and the panel ------------------------------------------------------------------
LAT = np.array([3.0, 4.0, 5.0, 6.0, 8.0, 9.0, 12.0])
ACC = np.array([0.70, 0.72, 0.71, 0.76, 0.78, 0.77, 0.80])


def test_figures_return_figures_and_reject_bad_input():
    settings = {"soft": (-0.07, -0.07), "hard": (0.0, -1.0)}
    assert isinstance(nb.reward_contours(6.0, settings, (2, 14), latency_ms=LAT, acc=ACC), Figure)
    fig, grid = nb.winner_map(LAT, ACC, 6.0, np.linspace(-1, 0, 6), np.linspace(-1.5, 0, 7),
                              marks=settings)
    assert isinstance(fig, Figure) and grid.shape == (6, 7)
    assert grid[-1, 0] == reward_best(ACC, LAT, 6.0, (0.0, -1.5))  # alpha = 0, beta = -1.5
    assert isinstance(nb.pareto_plot(LAT, ACC, {"soft": 6}, targets_ms=[6.0]), Figure)
    assert isinstance(nb.proxy_vs_oracle(ACC - 0.3, ACC, 0.5, labels=list("abcdefg")), Figure)
    with pytest.raises(ValueError, match="equal length"):
        nb.pareto_plot(LAT, ACC[:3])
    with pytest.raises(ValueError, match="not one of the 7 points"):
        nb.pareto_plot(LAT, ACC, {"soft": 9})
    with pytest.raises(ValueError, match="positive target"):
        nb.reward_contours(-1.0, settings, (2, 14))
    with pytest.raises(ValueError, match="equal length"):
        nb.proxy_vs_oracle([], [], 0.0)


def test_controller_figures():
    space = get_space("cpu")

    def toy(arrays):
        acc = 0.6 + 0.1 * (arrays.r == 32)
        return acc, acc, np.ones(len(acc))

    log = reinforce_search(toy, space, ControllerConfig(steps=5, batch_size=4))
    assert isinstance(nb.controller_curves({"toy": log}), Figure)
    choices = {n: getattr(space, f"{n}_choices") for n in ("ks", "e", "d", "r")}
    assert isinstance(nb.choice_distributions(log.probs, choices, title="toy"), Figure)
    assert isinstance(nb.evaluated_vs_space({"toy": log}, space.num_subnets(), {"supernet": 80}), Figure)
    with pytest.raises(ValueError, match="runs is empty"):
        nb.controller_curves({})
    with pytest.raises(ValueError, match=r"probs\['r'\]"):
        nb.choice_distributions({**log.probs, "r": log.probs["r"][:, 0]}, choices)
    with pytest.raises(ValueError, match="space_size"):
        nb.evaluated_vs_space({"toy": log}, 0)


def test_reward_view_marks_the_reward_best_point():
    fig, best, text = nb.reward_view(LAT, ACC, 6.0, 0.0, -1.0, labels=[f"net{i}" for i in range(7)])
    assert isinstance(fig, Figure) and best == reward_best(ACC, LAT, 6.0, "hard") == 3
    assert "net3" in text and "6.000 ms" in text
    with pytest.raises(ValueError, match="target_ms must be positive"):
        nb.reward_view(LAT, ACC, 0.0, 0.0, -1.0)


def test_reward_panel_redraws_on_slider_changes():
    panel = nb.RewardPanel(LAT, ACC, 6.0)
    assert panel.best == reward_best(ACC, LAT, 6.0, "soft")
    panel.alpha.value, panel.beta.value = 0.0, -1.0
    assert panel.best == 3  # hard constraint at 6 ms
    panel.T.value = 4.0
    assert panel.best == 1 and "4.000 ms" in panel.text.value
    assert panel.image.value[:4] == b"\x89PNG"
