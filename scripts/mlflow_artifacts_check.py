#!/usr/bin/env python3
"""Reads a run's artifacts with real MLflow and prints what MLflow sees, as JSON.

Used by tests/artifacts.rs to prove that artifacts logged by mlscope are read back by MLflow
(and to create runs for mlscope to log into). Needs mlflow (3.x), pandas and pillow.

    python mlflow_artifacts_check.py create URI NAME [--artifact-location LOC]
        -> {"experiment_id", "run_id", "artifact_uri"}
    python mlflow_artifacts_check.py check URI RUN_ID
        -> {"files": [...], "tables": {...}, "dicts": {...}, "texts": {...},
            "images": {...}, "image_files": {...}, "downloads": {...}, "tags": {...}}
    python mlflow_artifacts_check.py format-corpus OUT.json
        -> writes values with their json.dump(indent=2, sort_keys) / yaml.dump renderings

MLflow has no Python parser for image-step file names (its UI parses them in JavaScript), so
`parse_image_path` below is a line-by-line port of the UI's parser (`imagesByRunUuid` reducer
of mlflow/server/js, 3.17.2): extension after the last '.', separator the first of '%', '+'
found in the stem, fields key/step/timestamp/uuid[/compressed], '~' and '#' in the key -> '/'.
"""

import json
import os
import random
import string
import sys
import tempfile

os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")


def parse_image_path(path):
    """Port of the MLflow UI's logged-image file-name parser (throws like it)."""
    name = path[len("images/"):] if path.startswith("images/") else path
    extension = name.split(".")[-1]
    stem = name[: -(len(extension) + 1)] if extension else name
    sep = next((s for s in ["%", "+"] if s in stem), None)
    if sep is None:
        raise ValueError("Logged image path parse: incorrect filename format for image file")
    parts = stem.split(sep)
    parts += [None] * (7 - len(parts))
    key, step_word, step, ts_word, ts = parts[0], parts[1], parts[2], parts[3], parts[4]
    compressed = stem.endswith("compressed")
    if step_word != "step" or ts_word != "timestamp":
        raise ValueError("Logged image path parse: failed to parse step and timestamp")
    file_key = stem[:-11] if compressed else stem
    return {
        "imageKey": key.replace("~", "/").replace("#", "/"),
        "step": int(step),
        "timestamp": int(ts),
        "fileKey": file_key,
        "extension": extension,
        "isCompressed": compressed,
    }


def ui_image_series(files):
    """What the UI's reducer builds from a listing of images/: key -> fileKey -> entry."""
    out = {}
    for f in files:
        if f["is_dir"]:
            continue
        p = parse_image_path(f["path"])
        if p["extension"] not in ("png", "webp"):
            continue
        entry = out.setdefault(p["imageKey"], {}).setdefault(p["fileKey"], {})
        if p["isCompressed"]:
            entry["compressed_filepath"] = f["path"]
        else:
            entry.update(filepath=f["path"], step=p["step"], timestamp=p["timestamp"])
    return out


def cmd_create(uri, name, artifact_location=None):
    import mlflow
    from mlflow import MlflowClient

    mlflow.set_tracking_uri(uri)
    client = MlflowClient(uri)
    exp = client.get_experiment_by_name(name)
    exp_id = exp.experiment_id if exp else client.create_experiment(name, artifact_location)
    run = client.create_run(exp_id, run_name="from-mlflow")
    print(json.dumps({"experiment_id": exp_id, "run_id": run.info.run_id,
                      "artifact_uri": run.info.artifact_uri}))


def list_recursive(client, run_id, path=None):
    out = []
    for f in client.list_artifacts(run_id, path):
        out.append({"path": f.path, "is_dir": f.is_dir, "file_size": f.file_size})
        if f.is_dir:
            out.extend(list_recursive(client, run_id, f.path))
    return out


def jsonable(v):
    """pandas cells -> plain JSON values (numpy scalars, NaN -> None)."""
    import math

    if hasattr(v, "item"):
        v = v.item()
    if isinstance(v, float) and math.isnan(v):
        return None
    if isinstance(v, dict):
        return {k: jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [jsonable(x) for x in v]
    return v


def cmd_check(uri, run_id):
    import mlflow
    import mlflow.artifacts
    from mlflow import MlflowClient
    from PIL import Image

    mlflow.set_tracking_uri(uri)
    client = MlflowClient(uri)
    run = client.get_run(run_id)
    files = list_recursive(client, run_id)
    report = {"files": files, "tags": dict(run.data.tags), "tables": {}, "dicts": {},
              "texts": {}, "images": {}, "image_files": {}, "downloads": {}, "errors": []}

    # Tables: everything MLflow's loggedArtifacts tag announces, through mlflow.load_table.
    for entry in json.loads(run.data.tags.get("mlflow.loggedArtifacts", "[]")):
        if entry.get("type") != "table":
            continue
        mlflow.set_experiment(experiment_id=run.info.experiment_id)
        df = mlflow.load_table(entry["path"], run_ids=[run_id])
        report["tables"][entry["path"]] = {
            "columns": list(df.columns),
            "data": [[jsonable(v) for v in row] for row in df.itertuples(index=False)],
        }

    base = run.info.artifact_uri.rstrip("/")
    for f in files:
        if f["is_dir"]:
            continue
        p = f["path"]
        uri_of = f"{base}/{p}"
        try:
            if p.endswith((".yaml", ".yml")):
                # load_dict reads JSON only; YAML dicts are read as text with PyYAML.
                import yaml

                report["dicts"][p] = yaml.safe_load(mlflow.artifacts.load_text(uri_of))
            elif p.endswith(".json") and p not in report["tables"]:
                report["dicts"][p] = mlflow.artifacts.load_dict(uri_of)
            elif p.endswith((".txt", ".md")):
                report["texts"][p] = mlflow.artifacts.load_text(uri_of)
            elif p.endswith((".png", ".webp", ".jpg", ".jpeg", ".gif", ".bmp")):
                with tempfile.TemporaryDirectory() as td:
                    local = client.download_artifacts(run_id, p, td)
                    with Image.open(local) as im:
                        report["image_files"][p] = {"size": list(im.size), "format": im.format,
                                                    "mode": im.mode}
        except Exception as e:  # reported, the test decides
            report["errors"].append(f"{p}: {type(e).__name__}: {e}")

    # Image series as the UI sees them.
    image_listing = [f for f in files if f["path"].startswith("images/")
                     and "/" not in f["path"][len("images/"):]]
    try:
        report["images"] = ui_image_series(image_listing)
    except Exception as e:
        report["errors"].append(f"images/: {type(e).__name__}: {e}")

    # download_artifacts of the whole root and of each top-level entry.
    with tempfile.TemporaryDirectory() as td:
        root = client.download_artifacts(run_id, "", td)
        count = sum(len(fs) for _, _, fs in os.walk(root))
        report["downloads"][""] = count
    print(json.dumps(report, sort_keys=True))


def cmd_format_corpus(out):
    import yaml

    random.seed(5)
    atoms = ["true", "on", "no", "1", "1.5", "0x1F", "1_000", "2026-11-30", "1e3", "", " x",
             "x ", "~", "null", ".inf", "-", "- a", "a: b", "a #b", "#c", "it's", "ünï", "a\tb",
             "l1\nl2", 'say "hi"', "x:y", "a,b", "[x]", "{y}", "?x", "? x", ":x", "-x", "---x",
             "...x", "@x", "`x", "%x", "!x", "&x", "*x", "|x", ">x", "x\n", "\nx", "a  b",
             "a \n b", "a\n\nb", "multi\nline\nstring ", "0o17", "0b101", "+1", "-1.0", "1:30",
             "12:30:45", ".5", "1.", "Yes", "OFF", "<<", "=", "2001-12-14t21:59:43.10-05:00",
             "😀 emoji", "\x85x", "\u2028", "x\u00a0y", "back\\slash", "\x07bell", "a" * 130,
             ("word " * 40).strip(), ("longword" * 15 + " ") * 3, "'q'", '"dq"',
             "a'b'c" * 20 + " " + "z" * 50]

    def rnd(d=0):
        r = random.random()
        if d > 2 or r < 0.4:
            c = random.random()
            if c < 0.5:
                return random.choice(atoms)
            if c < 0.6:
                return random.randint(-1000, 10**12)
            if c < 0.75:
                return random.choice([0.1, 1e-5, 1e17, -2.5, 3.0, 1e16, 123456.789, 1.5e-7])
            if c < 0.85:
                return random.choice([True, False, None])
            return random.choice([[], {}])
        if r < 0.7:
            return {random.choice(atoms) if random.random() < 0.7
                    else "".join(random.choices(string.ascii_lowercase, k=5)): rnd(d + 1)
                    for _ in range(random.randint(1, 4))}
        return [rnd(d + 1) for _ in range(random.randint(1, 4))]

    cases = [rnd() for _ in range(400)] + [{a: a} for a in atoms] + atoms
    data = [{"value": c,
             "yaml": yaml.dump(c, indent=2, default_flow_style=False),
             "json": json.dumps(c, indent=2, default=str, sort_keys=True)} for c in cases]
    with open(out, "w") as f:
        json.dump(data, f)


def main(argv):
    if len(argv) >= 3 and argv[0] == "create":
        loc = None
        if "--artifact-location" in argv:
            loc = argv[argv.index("--artifact-location") + 1]
        cmd_create(argv[1], argv[2], loc)
    elif len(argv) == 3 and argv[0] == "check":
        cmd_check(argv[1], argv[2])
    elif len(argv) == 2 and argv[0] == "format-corpus":
        cmd_format_corpus(argv[1])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
