"""Running ``deskpulse`` sub-commands in-process, for tests."""

from __future__ import annotations

from services.cli import main


def run(argv: list[str], capsys) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of ``deskpulse <argv>``; argparse's rejections count as exit codes too."""
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse rejects malformed arguments this way
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err
