"""``python -m hwnas_lab ofa eval | train | bench`` on the command line, good and bad input."""

import json

import pytest

from hwnas_lab.cli import main as cli_main
from hwnas_lab.space import get_space


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
