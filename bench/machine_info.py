"""Machine facts recorded with every benchmark result: CPU model, cores, Python, platform,
package versions and the load average before the run."""
from __future__ import annotations

import importlib.metadata as md
import os
import platform


def machine(packages: tuple[str, ...]) -> dict:
    cpu = platform.processor()
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    vers = {}
    for pkg in packages:
        try:
            vers[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            vers[pkg] = None
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform(),
            "versions": vers, "load_before": [round(x, 2) for x in os.getloadavg()]}
