import logging

from services.cli import RedactTokens, build_parser


def test_access_log_lines_never_show_a_token():
    record = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
                               ("1.2.3.4:5", "GET", "/v1/stream?scope=all&access_token=s3cret&window=15m", "1.1", 200),
                               None)
    assert RedactTokens().filter(record)
    assert "s3cret" not in record.getMessage()
    assert "access_token=[redacted]&window=15m" in record.getMessage()


def test_every_documented_command_exists():
    commands = set(build_parser()._subparsers._group_actions[0].choices)
    assert {"demo", "kafka", "ingest", "aggregator", "api", "normalize", "verify", "replay", "staffing"} <= commands
