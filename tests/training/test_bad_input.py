"""Bad input through the real CLI: one line on stderr naming the key, path or URI; non-zero exit; nothing written."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.training.conftest import save_statements, statement_rows
from training.cli import app

runner = CliRunner()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def one_line_error(args: list[str]) -> tuple[int, str]:
    result = runner.invoke(app, args)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.output and result.exception is None or isinstance(result.exception, SystemExit)
    return result.exit_code, lines[0]


@pytest.fixture(scope="module")
def odd_datasets(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("odd")
    return {
        "no_validation": save_statements(root / "nv", {"train": statement_rows("train", 8),
                                                       "test": statement_rows("test", 4)}),
        "outside_codebook": save_statements(root / "oc", {"train": statement_rows("train", 8),
                                                          "validation": statement_rows("val", 4)},
                                            names=["support", "oppose", "undecided"]),
    }


@pytest.mark.parametrize(("extra", "message", "code"), [
    (["--set", "transformer.learing_rate=0.1"], "transformer.learing_rate: unknown key", 2),
    (["--set", "transformer.epochs=lots"], "transformer.epochs: Input should be a valid number", 2),
    (["--set", "transformer.batch_size=0"], "transformer.batch_size: Input should be greater than or equal to 1", 2),
    (["--set", "transformer.learning_rate=2"], "transformer.learning_rate: Input should be less than or equal", 2),
    (["--set", "transformer.model=/nonexistent/model"], "/nonexistent/model: model folder not found", 2),
    (["--set", "transformer.model=package:no_such_package"], "transformer.model: package:no_such_package", 2),
])
def test_config_errors(extra: list[str], message: str, code: int, statements_dataset: Path, tmp_path: Path) -> None:
    exit_code, line = one_line_error(["train", "--config", "tiny", "--dataset", str(statements_dataset),
                                      "--tracking-uri", f"sqlite:///{tmp_path}/m.db", "--set",
                                      f"output_dir={tmp_path / 'out'}", *extra])
    assert message in line and exit_code == code
    assert not (tmp_path / "out").exists()


def test_unknown_key_in_a_config_file(tmp_path: Path, statements_dataset: Path) -> None:
    config = tmp_path / "mine.yaml"
    config.write_text("name: mine\nkind: majority\ndata:\n  datset: x\n", encoding="utf-8")
    _, line = one_line_error(["train", "--config", str(config), "--dataset", str(statements_dataset)])
    assert line == f"error: {config}: data.datset: unknown key"


@pytest.mark.parametrize(("which", "message"), [
    ("no_validation", "missing split 'validation' (has train, test)"),
    ("outside_codebook", "stance label 'undecided' is not in the codebook"),
])
def test_dataset_errors(which: str, message: str, odd_datasets: dict[str, Path], tmp_path: Path) -> None:
    _, line = one_line_error(["train", "--config", "majority", "--dataset", str(odd_datasets[which]),
                              "--tracking-uri", f"sqlite:///{tmp_path}/m.db", "--set", f"output_dir={tmp_path}/o"])
    assert message in line and str(odd_datasets[which]) in line


def test_missing_dataset_folder(tmp_path: Path) -> None:
    _, line = one_line_error(["train", "--config", "majority", "--dataset", str(tmp_path / "none"),
                              "--tracking-uri", f"sqlite:///{tmp_path}/m.db"])
    assert f"{tmp_path / 'none'}: dataset folder not found" in line


def test_tracking_server_that_does_not_answer_fails_before_training(statements_dataset: Path,
                                                                    tmp_path: Path) -> None:
    uri = f"http://127.0.0.1:{free_port()}"
    code, line = one_line_error(["train", "--config", "tiny", "--dataset", str(statements_dataset),
                                 "--tracking-uri", uri, "--set", f"output_dir={tmp_path / 'out'}"])
    assert code == 3 and uri in line and "does not answer" in line
    assert not (tmp_path / "out").exists()  # nothing started, nothing written


def test_resume_with_nothing_to_resume(statements_dataset: Path, tmp_path: Path) -> None:
    _, line = one_line_error(["train", "--config", "majority", "--dataset", str(statements_dataset), "--resume",
                              "--tracking-uri", f"sqlite:///{tmp_path}/m.db", "--set", f"output_dir={tmp_path}"])
    assert "nothing to resume" in line


def test_predict_errors(statements_dataset: Path, tmp_path: Path) -> None:
    _, line = one_line_error(["predict", f"{statements_dataset}:test", "--model", str(tmp_path / "no-model"),
                              "--out", str(tmp_path / "p.jsonl")])
    assert f"{tmp_path / 'no-model'}: model path not found" in line
    _, line = one_line_error(["predict", f"{statements_dataset}:test", "--model", str(tmp_path),
                              "--out", str(tmp_path / "p.txt")])
    assert "output must end in .jsonl, .csv or .parquet" in line
    _, line = one_line_error(["predict", f"{statements_dataset}:dev", "--model", str(tmp_path),
                              "--out", str(tmp_path / "p.csv")])
    assert "missing split 'dev'" in line
    _, line = one_line_error(["predict", f"{statements_dataset}:test", "--model", str(tmp_path),
                              "--out", str(tmp_path / "p.csv")])
    assert "not a model folder" in line
    assert not list(tmp_path.glob("p.*"))
