"""liaison-submit: send a JSON or CSV file of reports to ingest.

liaison-submit examples/weekly-2011-W50.csv
liaison-submit --kind incidents examples/incident.json --url http://127.0.0.1:8001 --token lsn_…
"""

import argparse
import os
import sys
from pathlib import Path

from tqdm import tqdm

from liaison_client.client import PATHS, LiaisonClient, load_file


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="liaison-submit", description=__doc__.splitlines()[0])
    parser.add_argument(
        "file", type=Path, help="a .json file (object or array) or a .csv of weekly indicators"
    )
    parser.add_argument("--kind", choices=sorted(PATHS), default="reports")
    parser.add_argument("--url", default="http://127.0.0.1:8001", help="ingest's address")
    parser.add_argument(
        "--token",
        default=os.environ.get("LIAISON_TOKEN") or os.environ.get("LIAISON_ADMIN_TOKEN"),
        help="bearer token (default: $LIAISON_TOKEN, else $LIAISON_ADMIN_TOKEN)",
    )
    parser.add_argument("--batch-size", type=int, default=500)
    args = parser.parse_args(argv)
    if not args.token:
        parser.error("no token: pass --token or set LIAISON_TOKEN")
    if not args.file.exists():
        parser.error(f"{args.file} does not exist")
    try:
        items = load_file(args.file)
    except ValueError as error:
        parser.error(f"{args.file} is not valid JSON: {error}")
    client = LiaisonClient(args.url, args.token)
    try:
        with tqdm(total=len(items), unit="report", disable=len(items) < 50, file=sys.stderr) as bar:
            summary = client.submit(args.kind, items, batch_size=args.batch_size, progress=bar.update)
    finally:
        client.close()
    print("\n".join(summary.lines()))
    return 0 if summary.rejected == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
