"""Training logs: a CSV of scalars per step and a PNG plot of them, both rewritten atomically."""

import csv
import io
import math
from pathlib import Path

from PIL import Image, ImageDraw

from keymask.core.fileio import write_bytes, write_text

_COLOURS = ((31, 119, 180), (214, 39, 40), (44, 160, 44), (148, 103, 189), (255, 127, 14), (23, 190, 207),
            (140, 86, 75), (227, 119, 194))
NOT_PLOTTED = ("step", "lr", "seconds_per_iteration")  # in the CSV; the plot shows the losses


class TrainingLog:
    """Rows of {"step": int, name: float, ...}; `add` appends, `save` writes CSV and PNG."""

    def __init__(self, folder: str | Path, name: str = "log"):
        self.csv_path = Path(folder) / f"{name}.csv"
        self.png_path = Path(folder) / f"{name}.png"
        self.rows: list[dict[str, float]] = []
        if self.csv_path.exists():  # resuming: keep the history
            with open(self.csv_path, newline="") as handle:
                self.rows = [{k: (int(float(v)) if k == "step" else float(v)) for k, v in row.items() if v != ""}
                             for row in csv.DictReader(handle)]

    def add(self, step: int, **values: float) -> None:
        self.rows = [r for r in self.rows if r["step"] < step]  # a resumed run overwrites what came after
        self.rows.append({"step": int(step), **{k: float(v) for k, v in values.items()}})

    def save(self) -> None:
        names = list(dict.fromkeys(k for row in self.rows for k in row))
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=names)
        writer.writeheader()
        writer.writerows(self.rows)
        write_text(self.csv_path, buffer.getvalue())
        write_bytes(self.png_path, plot_png(self.rows))


def plot_png(rows: list[dict[str, float]], size: tuple[int, int] = (900, 420)) -> bytes:
    """One log-scale line per logged loss against the step."""
    width, height = size
    image = Image.new("RGB", size, (255, 255, 255))
    draw = ImageDraw.Draw(image)
    left, right, top, bottom = 60, width - 170, 20, height - 40
    draw.rectangle([left, top, right, bottom], outline=(120, 120, 120))
    series = {k: [(r["step"], r[k]) for r in rows if k in r and r[k] > 0] for k in (rows[0] if rows else {})
              if k not in NOT_PLOTTED}
    points = [p for values in series.values() for p in values]
    if points:
        steps = [s for s, _ in points]
        logs = [math.log10(v) for _, v in points]
        x0, x1 = min(steps), max(steps) or 1
        y0, y1 = min(logs), max(logs)
        y1 = y1 if y1 > y0 else y0 + 1
        def to_xy(step, value):
            x = left + (step - x0) / max(x1 - x0, 1e-9) * (right - left)
            return x, bottom - (math.log10(value) - y0) / (y1 - y0) * (bottom - top)
        for i, (name, values) in enumerate(series.items()):
            colour = _COLOURS[i % len(_COLOURS)]
            if len(values) > 1:
                draw.line([to_xy(s, v) for s, v in values], fill=colour, width=2)
            draw.text((right + 10, top + 16 * i), name, fill=colour)
        draw.text((left, bottom + 8), f"step {x0:.0f}", fill=(60, 60, 60))
        draw.text((right - 60, bottom + 8), f"{x1:.0f}", fill=(60, 60, 60))
        draw.text((4, top), f"1e{y1:.1f}", fill=(60, 60, 60))
        draw.text((4, bottom - 10), f"1e{y0:.1f}", fill=(60, 60, 60))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()
