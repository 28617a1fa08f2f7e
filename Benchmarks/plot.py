#!/usr/bin/env python3
"""Charts of a compare.py run: Benchmarks/plot.py SUMMARY_JSON OUT_DIR (needs matplotlib).

Writes server-ratios.png (PostOffice against Dovecot, one bar per workload; right of 1× is
PostOffice ahead), server-rates.png (sessions/s and RETR MB/s of PostOffice, Dovecot and the
in-memory responder that bounds the generator) and fetch-times.png (seconds per fetcher, on
loopback and with 10 ms added each way). Bars are medians; whiskers span min–max.
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

COLORS = {"postoffice": "#2b6cb0", "dovecot": "#c05621", "responder": "#718096"}
NAMES = {"postoffice": "PostOffice", "dovecot": "Dovecot", "responder": "in-memory responder"}


def whisker(values: list[float]) -> tuple[float, list[float]]:
    middle = statistics.median(values)
    return middle, [middle - min(values), max(values) - middle]


def server_ratios(summary: dict, out: Path) -> None:
    lines = [line for line in summary["servers"] if line["ratio"]]
    if not lines:
        return
    fig, ax = plt.subplots(figsize=(10, 0.42 * len(lines) + 1.4))
    titles = [line["title"] for line in lines][::-1]
    ratios = [line["ratio"] for line in lines][::-1]
    colors = [COLORS["postoffice"] if r >= 1 else COLORS["dovecot"] for r in ratios]
    ax.barh(titles, ratios, color=colors)
    ax.axvline(1, color="black", linewidth=0.8)
    ax.set_xscale("log")
    ax.set_xlabel("PostOffice ÷ Dovecot (right of 1×: PostOffice ahead), log scale")
    for y, value in enumerate(ratios):
        ax.text(value, y, f" {value:.2f}×", va="center", fontsize=8)
    ax.tick_params(axis="y", labelsize=8)
    ax.set_title(f"PostOffice against Dovecot {summary['meta'].get('dovecot', '')}, one core each")
    fig.tight_layout()
    fig.savefig(out / "server-ratios.png", dpi=110)
    plt.close(fig)


def server_rates(summary: dict, out: Path) -> None:
    wanted = [line for line in summary["servers"] if line["metric"] in ("sessions_per_s", "mb_per_s")]
    if not wanted:
        return
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    for ax, metric, label in ((axes[0], "sessions_per_s", "sessions/s"), (axes[1], "mb_per_s", "RETR MB/s")):
        lines = [line for line in wanted if line["metric"] == metric]
        width = 0.27
        for offset, server in enumerate(("dovecot", "postoffice", "responder")):
            xs, heights, errors = [], [[], []], []
            for index, line in enumerate(lines):
                if line.get(server):
                    middle, error = whisker(line[server])
                    xs.append(index + (offset - 1) * width)
                    errors.append(middle)
                    heights[0].append(error[0])
                    heights[1].append(error[1])
            ax.bar(xs, errors, width, yerr=heights, color=COLORS[server], label=NAMES[server], capsize=2)
        ax.set_xticks(range(len(lines)))
        ax.set_xticklabels([line["title"].split(" (")[0].replace(", ", "\n") for line in lines], fontsize=8)
        ax.set_yscale("log")
        ax.set_ylabel(label + " (log scale)")
        ax.legend(fontsize=8)
    fig.suptitle("Throughput, medians with min–max (the responder shows the generator's ceiling)")
    fig.tight_layout()
    fig.savefig(out / "server-rates.png", dpi=110)
    plt.close(fig)


def fetch_times(summary: dict, out: Path) -> None:
    rows = summary["clients"]
    if not rows:
        return
    clients = list(dict.fromkeys(row["client"] for row in rows))
    paths = list(dict.fromkeys(row["path"] for row in rows))
    fig, ax = plt.subplots(figsize=(10, 4.5))
    width = 0.8 / len(clients)
    palette = ["#2b6cb0", "#c05621", "#2f855a", "#6b46c1", "#718096"]
    for index, client in enumerate(clients):
        xs, middles, errors = [], [], [[], []]
        for position, path in enumerate(paths):
            seconds = next((row["seconds"] for row in rows if row["client"] == client and row["path"] == path), [])
            if seconds:
                middle, error = whisker(seconds)
                xs.append(position + (index - (len(clients) - 1) / 2) * width)
                middles.append(middle)
                errors[0].append(error[0])
                errors[1].append(error[1])
        ax.bar(xs, middles, width, yerr=errors, label=client, color=palette[index % len(palette)], capsize=2)
        for x, middle in zip(xs, middles):
            ax.text(x, middle, f"{middle:.2g}", ha="center", va="bottom", fontsize=7)
    ax.set_xticks(range(len(paths)))
    ax.set_xticklabels(["loopback" if p == "loopback" else "10 ms added each way" for p in paths])
    ax.set_yscale("log")
    ax.set_ylabel("seconds (log scale, lower is better)")
    ax.set_title(f"Download and delete {summary['meta']['counts']['fetch']:,} messages of ~4 KB from Dovecot")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "fetch-times.png", dpi=110)
    plt.close(fig)


def main() -> None:
    summary = json.loads(Path(sys.argv[1]).read_text())
    out = Path(sys.argv[2])
    out.mkdir(parents=True, exist_ok=True)
    server_ratios(summary, out)
    server_rates(summary, out)
    fetch_times(summary, out)
    print(f"charts in {out}")


if __name__ == "__main__":
    main()
