"""Records what real MLflow answers for the search corpus (tests/search_corpus/cases.json).

Usage (from the repository root, with the MLflow 3.17.2 venv):

    MLFLOW_ALLOW_FILE_STORE=true ~/.cache/mlscope/venv-mlflow-3.17.2/bin/python \
        scripts/gen_search_corpus.py [--fixtures tests/fixtures] [--out tests/search_corpus/expected.json]

For each case and each of the two committed MLflow fixtures (`mlflow-3.17.2-file/mlruns` and
`mlflow-3.17.2-sqlite/mlflow.db`) it runs `MlflowClient.search_runs` / `search_experiments` and
writes, per case and backend ("file", "sql"), either the pages (run or experiment NAMES in
order, plus the next page token of each page) or the error (MLflow error code and message).

Run and experiment ids differ between the two fixtures, so cases name experiments by name and
may write `{id:<run name>}` / `{exp:<experiment name>}` in filters and `order_by` clauses; they
are replaced by each backend's real id before searching (the Rust test does the same).

MLflow writes to stores it opens (SQLite migrations, the file store's `.trash/`), so this script
only ever opens temporary COPIES of the fixtures (recreating the empty directories listed in
`empty_dirs.txt`, which git does not keep), never the checked-in stores.

Regenerate whenever the fixtures or cases change; review `git diff` of expected.json.
"""

import argparse
import json
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")

import mlflow  # noqa: E402
from mlflow.entities import ViewType  # noqa: E402
from mlflow.exceptions import MlflowException  # noqa: E402
from mlflow.tracking import MlflowClient  # noqa: E402

FIXTURES = {
    "file": ("mlflow-3.17.2-file", "mlruns"),
    "sql": ("mlflow-3.17.2-sqlite", "mlflow.db"),
}
VIEWS = {
    "ACTIVE_ONLY": ViewType.ACTIVE_ONLY,
    "DELETED_ONLY": ViewType.DELETED_ONLY,
    "ALL": ViewType.ALL,
}
PLACEHOLDER = re.compile(r"\{(id|exp):([^{}]*)\}")
MAX_PAGES = 100


def copy_fixture(src: Path, dst: Path) -> None:
    shutil.copytree(src, dst)
    listing = src / "empty_dirs.txt"
    if listing.exists():
        for line in listing.read_text(encoding="utf-8").splitlines():
            if line.strip():
                (dst / line).mkdir(parents=True, exist_ok=True)


def substitute(text: str, run_ids: dict, exp_ids: dict) -> str:
    def repl(m):
        kind, name = m.group(1), m.group(2)
        table = run_ids if kind == "id" else exp_ids
        if name not in table:
            raise SystemExit(f"unknown {kind} placeholder {name!r} in {text!r}")
        return table[name]

    return PLACEHOLDER.sub(repl, text)


def error_of(e: Exception) -> dict:
    if isinstance(e, MlflowException):
        return {"code": e.error_code, "message": e.message}
    return {"code": type(e).__name__, "message": str(e)}


def walk(search, max_results, page_token, all_pages, label):
    """Runs `search(max_results, token)` for one page or every page; returns pages or error."""
    pages = []
    token = page_token
    try:
        while True:
            result = search(max_results, token)
            # MLflow's stores return the token as bytes (the REST layer decodes it).
            tok = result.token.decode("ascii") if isinstance(result.token, bytes) else result.token
            pages.append({"items": [label(x) for x in result], "token": tok})
            token = result.token
            if not all_pages or not token:
                break
            if len(pages) >= MAX_PAGES:
                raise SystemExit("too many pages")
    except Exception as e:  # noqa: BLE001 - MLflow's own failures are recorded too
        return {"error": error_of(e)}
    return {"pages": pages}


def record_backend(backend: str, root: Path, corpus: dict) -> dict:
    fixture, store = FIXTURES[backend]
    with tempfile.TemporaryDirectory(prefix=f"mlscope-corpus-{backend}-") as tmp:
        tmp = Path(tmp)
        copy = tmp / fixture
        copy_fixture(root / fixture, copy)
        path = copy / store
        uri = path.as_uri() if backend == "file" else "sqlite:///" + str(path)
        # The SQL store's default artifact root is ./mlruns: keep it in the temp dir.
        cwd = os.getcwd()
        os.chdir(tmp)
        try:
            client = MlflowClient(uri)
            exps = client.search_experiments(view_type=ViewType.ALL, max_results=50000)
            exp_ids = {e.name: e.experiment_id for e in exps}
            exp_names = {e.experiment_id: e.name for e in exps}
            runs = client.search_runs(list(exp_ids.values()), "", ViewType.ALL, 50000)
            run_ids = {}
            for r in runs:
                name = r.info.run_name
                if name in run_ids:
                    raise SystemExit(f"run name {name!r} is not unique in {backend} fixture")
                run_ids[name] = r.info.run_id
            run_names = {v: k for k, v in run_ids.items()}

            out_runs = {}
            defaults = corpus["defaults"]
            for case in corpus["runs"]:
                experiments = case.get("experiments", defaults["experiments"])
                ids = [exp_ids[name] for name in experiments]
                flt = substitute(case.get("filter", ""), run_ids, exp_ids)
                order_by = [substitute(o, run_ids, exp_ids) for o in case.get("order_by", [])]
                view = VIEWS[case.get("view", defaults["view"])]

                def search(max_results, token, ids=ids, flt=flt, order_by=order_by, view=view):
                    return client.search_runs(ids, flt, view, max_results, order_by or None, token)

                out_runs[case["id"]] = walk(
                    search,
                    case.get("max_results", defaults["max_results"]),
                    case.get("page_token"),
                    case.get("pages", False),
                    lambda r: run_names.get(r.info.run_id, r.info.run_id),
                )

            out_exps = {}
            for case in corpus["experiments"]:
                flt = substitute(case.get("filter", ""), run_ids, exp_ids)
                order_by = [substitute(o, run_ids, exp_ids) for o in case.get("order_by", [])]
                view = VIEWS[case.get("view", defaults["view"])]

                def search(max_results, token, flt=flt, order_by=order_by, view=view):
                    return client.search_experiments(
                        view_type=view,
                        max_results=max_results,
                        filter_string=flt,
                        order_by=order_by or None,
                        page_token=token,
                    )

                out_exps[case["id"]] = walk(
                    search,
                    case.get("max_results", defaults["max_results"]),
                    case.get("page_token"),
                    case.get("pages", False),
                    lambda e: exp_names.get(e.experiment_id, e.experiment_id),
                )
        finally:
            os.chdir(cwd)
    return {"runs": out_runs, "experiments": out_exps}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    repo = Path(__file__).resolve().parent.parent
    ap.add_argument("--fixtures", type=Path, default=repo / "tests" / "fixtures")
    ap.add_argument("--cases", type=Path, default=repo / "tests" / "search_corpus" / "cases.json")
    ap.add_argument("--out", type=Path, default=repo / "tests" / "search_corpus" / "expected.json")
    args = ap.parse_args()

    corpus = json.loads(args.cases.read_text(encoding="utf-8"))
    seen = set()
    for kind in ("runs", "experiments"):
        for case in corpus[kind]:
            if case["id"] in seen:
                raise SystemExit(f"duplicate case id {case['id']!r}")
            seen.add(case["id"])

    results = {b: record_backend(b, args.fixtures.resolve(), corpus) for b in FIXTURES}
    out = {
        "generator": f"scripts/gen_search_corpus.py with mlflow {mlflow.__version__}",
        "fixtures": {b: f"{f}/{s}" for b, (f, s) in FIXTURES.items()},
        "runs": {},
        "experiments": {},
        "file_sql_disagreements": [],
    }
    for kind in ("runs", "experiments"):
        for case in corpus[kind]:
            cid = case["id"]
            per = {b: results[b][kind][cid] for b in FIXTURES}
            out[kind][cid] = per
            # Orders by ids cannot agree: the two fixtures have different ids.
            if not case.get("order_depends_on_ids") and strip_messages(per["file"]) != strip_messages(
                per["sql"]
            ):
                out["file_sql_disagreements"].append(cid)

    args.out.parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(out, f, indent=1, ensure_ascii=False, sort_keys=False)
        f.write("\n")
    n_runs, n_exps = len(corpus["runs"]), len(corpus["experiments"])
    errors = sum(1 for k in ("runs", "experiments") for c in out[k].values() if "error" in c["file"])
    print(
        f"{n_runs} run cases, {n_exps} experiment cases ({errors} rejected by MLflow's file store); "
        f"file/sql disagree on {len(out['file_sql_disagreements'])}: {out['file_sql_disagreements']}",
        file=sys.stderr,
    )


def strip_messages(outcome: dict) -> dict:
    """The outcome without error messages (the two stores word errors differently)."""
    if "error" in outcome:
        return {"error": outcome["error"]["code"]}
    return outcome


if __name__ == "__main__":
    main()
