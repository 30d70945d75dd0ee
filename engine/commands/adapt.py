"""``cli.py adapt``: route one OMS payload and print the platform-shaped response.

Examples::

    python cli.py adapt shopify --order order.json --locations locations.json \\
        --inventory inventory_levels.json [--policy policy.toml] [--config sourcewise.json]
    python cli.py adapt magento --order ssa_request.json --locations sources.json \\
        --inventory source_items.json
    python cli.py adapt generic --order orders.json ...   # one order, or {"orders": [...]}

Every file is read and validated before anything is routed; on any problem
the command prints each one (with its JSON path) to stderr, prints nothing
to stdout and exits with status 2.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tomllib
from pathlib import Path
from typing import Any

from sourcewise.engine.adapters import PLATFORMS
from sourcewise.engine.adapters import AdapterError
from sourcewise.engine.adapters import route_payload
from sourcewise.engine.adapters.generic import is_batch
from sourcewise.engine.adapters.generic import route_orders
from sourcewise.models.errors import ValidationError
from sourcewise.models.policy import STRATEGIES
from sourcewise.models.policy import Policy
from sourcewise.models.policy import load_policy

__all__ = ["register", "run"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "adapt", help="route one OMS payload (Shopify, commercetools, Magento MSI, generic JSON)",
        description="Route one order payload against the platform's locations and inventory and print "
                    "the platform's write-back shape as JSON.",
    )
    p.add_argument("platform", choices=PLATFORMS)
    p.add_argument("--order", required=True, help="order payload (JSON)")
    p.add_argument("--locations", required=True, help="locations / channels / sources payload (JSON)")
    p.add_argument("--inventory", required=True, help="inventory levels / entries / source items (JSON)")
    p.add_argument("--policy", help="policy.toml (default policy when omitted)")
    p.add_argument("--config", help="JSON with per-location overrides (coordinates, kind, priority, ...) "
                                    "and per-SKU weight/price")
    p.add_argument("--strategy", choices=STRATEGIES, help="override the policy's strategy")
    p.add_argument("--indent", type=int, default=2, help="JSON indentation (0 for one line)")
    p.set_defaults(func=run)


def _load_json(path: str, what: str, errors: list[str]) -> Any:
    try:
        with Path(path).open(encoding="utf-8") as fh:
            return json.load(fh)
    except FileNotFoundError:
        errors.append(f"{what} file {path}: not found")
    except (OSError, UnicodeDecodeError) as exc:
        errors.append(f"{what} file {path}: cannot be read ({exc})")
    except json.JSONDecodeError as exc:
        errors.append(f"{what} file {path}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})")
    return None


def _load_policy(path: str | None, strategy: str | None, errors: list[str]) -> Policy | None:
    if path is not None and not Path(path).is_file():
        # load_policy quietly defaults for a missing file; a named one must exist
        errors.append(f"policy file {path}: not found")
        return None
    try:
        policy = load_policy(path)
    except tomllib.TOMLDecodeError as exc:
        errors.append(f"policy file {path}: not valid TOML ({exc})")
        return None
    except (ValidationError, TypeError) as exc:
        errors.append(f"policy file {path}: {exc}")
        return None
    return dataclasses.replace(policy, strategy=strategy) if strategy else policy


def run(args: argparse.Namespace) -> int:
    errors: list[str] = []
    order = _load_json(args.order, "order", errors)
    locations = _load_json(args.locations, "locations", errors)
    inventory = _load_json(args.inventory, "inventory", errors)
    config = _load_json(args.config, "config", errors) if args.config else None
    policy = _load_policy(args.policy, args.strategy, errors)
    if errors:
        print("error: cannot read the input\n" + "\n".join(f"  - {e}" for e in errors), file=sys.stderr)
        return 2
    try:
        if args.platform == "generic" and is_batch(order):
            response = route_orders(order, locations, inventory, policy=policy, config=config)
        else:
            response = route_payload(args.platform, order, locations, inventory, policy=policy, config=config)
    except AdapterError as exc:
        print(f"error: the {args.platform} payloads are invalid\n{exc}", file=sys.stderr)
        return 2
    except ValidationError as exc:  # a model-level check the adapter did not anticipate
        print(f"error: the {args.platform} payloads are invalid\n{exc}", file=sys.stderr)
        return 2
    indent = args.indent if args.indent > 0 else None
    print(json.dumps(response, indent=indent, ensure_ascii=False))
    return 0
