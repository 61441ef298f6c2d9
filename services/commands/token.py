"""``deskpulse token new``: a read-API token with a role and a reach, printed once with its line for the tokens file;
``deskpulse token hash``: the line's hash of a token you already have (read from stdin, never an argument)."""

from __future__ import annotations

import argparse
import sys

import yaml

from services.api.tokens import ROLES, TokensFileError, hash_token, new_token, parse_entry


def entry_for(args: argparse.Namespace, digest: str) -> dict:
    """The tokens-file entry the options describe (checked by the file's own parser)."""
    entry: dict = {"name": args.name, "role": args.role, "sha256": digest}
    if args.agent:
        entry["agent"] = args.agent
    for key in ("teams", "platforms", "accounts"):
        if getattr(args, key):
            entry[key] = getattr(args, key)
    if args.expires:
        entry["expires"] = args.expires
    parse_entry(entry, "deskpulse token new")
    return entry


def cmd_new(args: argparse.Namespace) -> int:
    token = new_token()
    try:
        entry = entry_for(args, hash_token(token))
    except TokensFileError as exc:
        print(f"{exc}", file=sys.stderr)
        return 2
    lines = yaml.safe_dump([entry], sort_keys=False, default_flow_style=None, allow_unicode=True)
    print(f"The token for {args.name} ({args.role}); it is shown only this once, keep it secret:\n\n  {token}\n")
    print("Add this entry under `tokens:` in the tokens file (DESKPULSE_API_TOKENS_FILE; read again within seconds):\n")
    print("\n".join("  " + line for line in lines.rstrip().splitlines()))
    return 0


def cmd_hash(args: argparse.Namespace) -> int:
    token = sys.stdin.readline().strip()
    if not token:
        print(
            'deskpulse token hash: give the token on stdin (e.g. `printf %s "$TOKEN" | deskpulse token hash`)',
            file=sys.stderr,
        )
        return 2
    print(hash_token(token))
    return 0


def register(sub) -> None:
    token = sub.add_parser("token", help="make read-API tokens with a role and a reach (docs/api.md, Roles)")
    actions = token.add_subparsers(dest="action", required=True)
    new = actions.add_parser(
        "new",
        help="print a new token once, and its entry for the tokens file",
        description="Print a new token (shown once) and the entry to add to DESKPULSE_API_TOKENS_FILE. The file keeps "
        "only the token's SHA-256. Example: deskpulse token new --role manager --team zendesk/billing "
        '--name "Billing leads"',
    )
    new.add_argument("--role", required=True, choices=ROLES)
    new.add_argument("--name", required=True, help="who holds it: shown in logs and refusals, never the token")
    new.add_argument("--agent", help="agent tokens: <platform>/<agent id>")
    new.add_argument("--team", dest="teams", action="append", default=[], help="<platform>/<queue id> (repeatable)")
    new.add_argument("--platform", dest="platforms", action="append", default=[], help="managers (repeatable)")
    new.add_argument("--account", dest="accounts", action="append", default=[], help="<platform>/<account id>")
    new.add_argument("--expires", help="a date (YYYY-MM-DD, its UTC midnight) or an RFC 3339 time")
    new.set_defaults(func=cmd_new)
    hashed = actions.add_parser("hash", help="the SHA-256 of a token read from stdin, for the tokens file")
    hashed.set_defaults(func=cmd_hash)
