"""``python -m hwnas_lab ofa eval | train | bench | search`` on the command line, good and bad input."""

import json
from dataclasses import replace

import pytest

from hwnas_lab.blocks import arch_flops
from hwnas_lab.cli import main as cli_main
from hwnas_lab.ofa import commands
from hwnas_lab.ofa.schedule import get_shrink_config
from hwnas_lab.space import Arch, get_space
from ofa_search_helpers import SPACE, fake_latency_model, synthetic_table


def test_ofa_eval_cli(ofa_smoke_run, cifar_root, capsys, monkeypatch):
    monkeypatch.setenv("HWNAS_DATA_DIR", cifar_root)
    out, _ = ofa_smoke_run
    assert cli_main(["ofa", "eval", str(out), "--arch", "smallest", "--recal-batches", "1",
                     "--json"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    result = json.loads(lines[-1])
    assert result["arch"] == get_space("cpu").smallest().to_dict()
    assert 0 <= result["acc_recalibrated"] <= 1 and result["images"] == 100
    gpu_arch = json.dumps(get_space("gpu").largest().to_dict())
    assert cli_main(["ofa", "eval", str(out), "--arch", gpu_arch]) == 2
    assert "Arch." in capsys.readouterr().err
    arch_file = out.parent / "arch.json"
    arch_file.write_text(get_space("cpu").uniform(5, 4, 3, 28).to_json())
    assert cli_main(["ofa", "eval", str(out), "--arch", str(arch_file), "--recal-batches", "1",
                     "--split", "val", "--json"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["arch"]["r"] == 28 and result["split"] == "val"
    assert cli_main(["ofa", "eval", str(out), "--arch", str(out.parent / "missing.json")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert cli_main(["ofa", "eval", str(out), "--arch", "biggest"]) == 2
    assert "largest, smallest, random" in capsys.readouterr().err


def test_eval_without_recalibration_says_so(ofa_smoke_run, cifar_root, capsys, monkeypatch):
    monkeypatch.setenv("HWNAS_DATA_DIR", cifar_root)
    out, _ = ofa_smoke_run
    assert cli_main(["ofa", "eval", str(out), "--recal-batches", "0", "--json"]) == 0
    text = capsys.readouterr().out
    assert "recalibration" not in text.splitlines()[1]
    assert "acc_recalibrated" not in json.loads(text.strip().splitlines()[-1])


@pytest.mark.parametrize("argv, message", [
    (["ofa", "bench", "--repeats", "0"], "must be an integer >= 1, got 0"),
    (["ofa", "bench", "--batch-size", "0"], "must be an integer >= 1, got 0"),
    (["ofa", "bench", "--threads", "0"], "must be an integer >= 1, got 0"),
    (["ofa", "eval", "x", "--recal-batches", "-1"], "must be an integer >= 0, got -1"),
    (["ofa", "train", "--preset", "huge", "--out", "x"], "invalid choice: 'huge'"),
    (["ofa", "train", "--preset", "smoke", "--out", "x", "--seed", "-1"],
     "must be an integer >= 0, got -1"),
])
def test_bad_numbers_fail_before_any_work(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_:
        cli_main(argv)
    assert exit_.value.code == 2 and message in capsys.readouterr().err


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="this machine has a GPU")
def test_train_on_cuda_without_a_gpu(tmp_path, capsys):
    assert cli_main(["ofa", "train", "--preset", "smoke", "--out", str(tmp_path / "r"),
                     "--device", "cuda"]) == 2
    assert "torch.cuda.is_available() is False" in capsys.readouterr().err


def test_train_seed_changes_only_the_seed(monkeypatch, tmp_path):
    configs = []
    monkeypatch.setattr(commands, "train_supernet", lambda config, *a, **k: configs.append(config))
    for extra in ([], ["--seed", "3"]):
        assert cli_main(["ofa", "train", "--preset", "laptop", "--out", str(tmp_path), *extra]) == 0
    preset, seeded = configs
    assert preset == get_shrink_config("laptop") and preset.seed == 0
    assert seeded.seed == 3 and replace(seeded, seed=0) == preset


def test_resume_with_another_seed_names_the_run_s_seed(ofa_smoke_run, capsys):
    out, _ = ofa_smoke_run
    assert cli_main(["ofa", "train", "--preset", "smoke", "--out", str(out), "--resume",
                     "--seed", "5"]) == 2
    assert "resume with --preset smoke --seed 0" in capsys.readouterr().err


# ----- ofa search (notebook 06) ------------------------------------------------------------

def test_command_explains_an_infeasible_limit(monkeypatch, capsys):
    from hwnas_lab import cli
    from hwnas_lab.ofa import specialise

    monkeypatch.setattr(specialise, "latency_model", fake_latency_model)
    low = synthetic_table().predict(SPACE.smallest())
    code = cli.main(["ofa", "search", "--target", "torch-1thread", "--latency-ms", f"{low / 3:.4f}"])
    err = capsys.readouterr().err
    assert code == 2 and f"smallest feasible value is {low:.4g} ms" in err
    code = cli.main(["ofa", "search", "--latency-ms", "-1"])
    assert code == 2 and "positive number" in capsys.readouterr().err


def test_command_refuses_a_corrupt_supernet(tmp_path, capsys):
    from hwnas_lab import cli

    bad = tmp_path / "supernet.pt"
    bad.write_bytes(b"garbage")
    assert cli.main(["ofa", "search", "--supernet", str(bad), "--latency-ms", "5"]) == 2
    assert "not a readable OFA checkpoint" in capsys.readouterr().err


def test_command_runs_a_smoke_search(notebook_env, monkeypatch, capsys, tmp_path):
    from hwnas_lab import cli
    from hwnas_lab.ofa import specialise

    for key, value in notebook_env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr(specialise, "latency_model", fake_latency_model)
    low = synthetic_table().predict(SPACE.smallest())
    code = cli.main(["ofa", "search", "--preset", "smoke", "--latency-ms", f"{2 * low:.3f}",
                     "--memory-kb", "300", "--generations", "10", "--population", "20", "--json",
                     "--no-progress"])
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert code == 0 and out["predicted"]["latency_ms"] <= 2 * low and out["predicted"]["memory_kb"] <= 300
    arch = Arch.from_dict(out["arch"]).validate(SPACE)
    assert out["evaluations"] == 20 + 10 * 20 and 0 <= out["measured_acc"] <= 1 and out["measured_ms"] > 0
    assert arch_flops(SPACE, arch) > 0
