#!/usr/bin/env python3
"""Prints the command line a Job of a manifest runs in its pod, for deploy/run-local.sh.

    job_command.py MANIFEST JOB INDEX [NAME=VALUE ...]
    job_command.py MANIFEST JOB --completions

The first form prints, NUL-separated, `env NAME=VALUE ... COMMAND ARGS...`: the first
container's environment (its plain values, NAME=VALUE overriding them, and
JOB_COMPLETION_INDEX=INDEX), then its command and arguments with $(NAME) expanded as the
kubelet does. A container without `command` runs the image's entrypoint, `rpycbench`.
The second form prints the Job's completions (its worker count).
"""

import re
import sys

try:
    import yaml
except ImportError:
    sys.exit("job_command.py: PyYAML is missing: pip install pyyaml (or use the .venv-k8s that scripts/test makes)")

ENTRYPOINT = ["rpycbench"]


def find_job(path, name):
    with open(path, encoding="utf-8") as f:
        for doc in yaml.safe_load_all(f):
            if doc and doc.get("kind") == "Job" and doc.get("metadata", {}).get("name") == name:
                return doc
    sys.exit(f"job_command.py: {path} has no Job named {name!r}")


def expand(text, env):
    """$(NAME) -> its value when NAME is defined, $$ -> $, else left as is (the kubelet's rules)."""
    return re.sub(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)",
                  lambda m: "$" if m.group(0) == "$$" else env.get(m.group(1), m.group(0)), text)


def main(argv):
    if len(argv) < 4:
        sys.exit(__doc__)
    job = find_job(argv[1], argv[2])
    if argv[3] == "--completions":
        print(job["spec"].get("completions", 1))
        return
    container = job["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: str(e["value"]) for e in container.get("env", []) if "value" in e}
    env["JOB_COMPLETION_INDEX"] = argv[3]
    for pair in argv[4:]:
        name, _, value = pair.partition("=")
        env[name] = value
    command = container.get("command") or ENTRYPOINT
    line = [expand(str(a), env) for a in command + container.get("args", [])]
    sys.stdout.write("\0".join(["env"] + [f"{k}={v}" for k, v in env.items()] + line) + "\0")


if __name__ == "__main__":
    main(sys.argv)
