"""The pieces of the spatial-weights figure (:func:`pilotdid.figures.weights_figure`) that
are not drawing: which edges to keep, where to put units without coordinates, and where to
put their labels so that none overlaps another label or a unit's point.

Everything here is deterministic (no random starts), so a figure's bytes depend only on W.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

#: Above this many units a spring layout takes too long (O(n^2) per iteration: ~10 s at 1,000).
SPRING_MAX_UNITS = 1_000

#: Above this many units labels are not drawn: at a paper figure's size they cannot be read.
LABEL_MAX_UNITS = 60


def strongest_edges(m: np.ndarray, k: int | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The undirected edges (i < j) to draw and their strength w_ij + w_ji.

    ``k=None`` keeps every pair with a non-zero weight. Otherwise the pair i-j is kept when j
    is among the ``k`` largest weights of row i or i among the ``k`` largest of row j (the
    union, so that every unit keeps at least its own strongest k). Ties in a row are broken
    by column index, so the choice does not depend on floating-point noise in the sort.
    Returned strongest first (ties by (i, j)).
    """
    n = m.shape[0]
    off = m.copy()
    np.fill_diagonal(off, 0.0)
    sym = off + off.T
    if k is None:
        keep = sym != 0.0
    else:
        keep = np.zeros((n, n), dtype=bool)
        # column index as a secondary key: stable sort of -w_ij keeps lower j first on ties
        order = np.argsort(-off, axis=1, kind="stable")[:, :k]
        rows = np.repeat(np.arange(n), order.shape[1])
        cols = order.ravel()
        nonzero = off[rows, cols] != 0.0
        keep[rows[nonzero], cols[nonzero]] = True
        keep |= keep.T
    iu, ju = np.nonzero(np.triu(keep, k=1))
    wts = sym[iu, ju]
    order = np.lexsort((ju, iu, -np.abs(wts)))
    return iu[order], ju[order], wts[order]


def n_pairs(m: np.ndarray) -> int:
    """Undirected pairs i < j with w_ij + w_ji != 0."""
    off = m.copy()
    np.fill_diagonal(off, 0.0)
    return int(np.count_nonzero(np.triu(off + off.T, k=1)))


def spring_layout(m: np.ndarray, iterations: int = 300) -> np.ndarray:
    """Fruchterman-Reingold positions (n x 2, in [0, 1]) of the graph with edge weights
    |w_ij + w_ji| (scaled to a maximum of 1), started from a golden-angle spiral so that the
    layout is deterministic. Used when W comes without coordinates."""
    n = m.shape[0]
    if n == 1:
        return np.array([[0.5, 0.5]])
    off = np.abs(m + m.T)
    np.fill_diagonal(off, 0.0)
    top = off.max()
    adj = off / top if top > 0 else off
    # golden-angle spiral: evenly spread, no two points equal
    idx = np.arange(n) + 0.5
    radius = np.sqrt(idx / n)
    angle = idx * np.pi * (3.0 - np.sqrt(5.0))
    pos = np.column_stack([radius * np.cos(angle), radius * np.sin(angle)])
    k = 1.0 / np.sqrt(n)  # the optimal distance between points
    temperature = 0.1
    cooling = temperature / (iterations + 1)
    for _ in range(iterations):
        delta = pos[:, None, :] - pos[None, :, :]
        dist = np.maximum(np.hypot(delta[..., 0], delta[..., 1]), 0.01)
        # repulsion k^2/d between every pair, attraction w d^2/k along the edges
        force = k * k / dist**2 - adj * dist / k
        disp = np.einsum("ijk,ij->ik", delta, force)
        length = np.maximum(np.hypot(disp[:, 0], disp[:, 1]), 0.01)
        pos += disp * (temperature / length)[:, None]
        temperature -= cooling
    pos -= pos.min(axis=0)
    span = pos.max(axis=0)
    span[span == 0] = 1.0
    return pos / span.max()


def _overlap(box: np.ndarray, others: np.ndarray) -> float:
    """Total area of ``box`` (x0, y0, x1, y1) covered by each of ``others`` (m x 4)."""
    if others.size == 0:
        return 0.0
    w = np.minimum(box[2], others[:, 2]) - np.maximum(box[0], others[:, 0])
    h = np.minimum(box[3], others[:, 3]) - np.maximum(box[1], others[:, 1])
    return float(np.sum(np.clip(w, 0, None) * np.clip(h, 0, None)))


#: Candidate label positions around a point: (direction x, direction y, ha, va), the first
#: preferred (up-right, as a reader expects), then the other diagonals, then the sides.
_CANDIDATES = (
    (1, 1, "left", "bottom"),
    (-1, 1, "right", "bottom"),
    (1, -1, "left", "top"),
    (-1, -1, "right", "top"),
    (1, 0, "left", "center"),
    (-1, 0, "right", "center"),
    (0, 1, "center", "bottom"),
    (0, -1, "center", "top"),
)

#: The thin line from a moved label back to its point.
_LEADER = {"arrowstyle": "-", "lw": 0.4, "color": "0.4", "shrinkA": 0, "shrinkB": 2}

#: Distances (points) from the point tried in turn; beyond the first a leader line is drawn.
_DISTANCES = (3.0, 8.0, 14.0, 22.0)


def place_labels(
    ax: Any,
    xy: np.ndarray,
    texts: Sequence[str],
    *,
    fontsize: float,
    marker_points: float,
    font: str | None,
) -> list[Any]:
    """Annotate each point ``xy[i]`` (data coordinates) with ``texts[i]`` at the first of
    the candidate positions (8 directions, 4 distances) whose text box overlaps no label
    placed before, no unit's point and stays inside the axes; when none is free, the one
    with the least overlap. Crowded points are placed first (they have the fewest free
    spots); a label moved beyond the nearest distance gets a thin leader line to its point.
    The figure's layout must be final (frozen) before this runs. Returns the annotations in
    the order of ``texts``."""
    import matplotlib.patheffects as pe
    from matplotlib.text import Text

    fig = ax.figure
    if not hasattr(fig.canvas, "get_renderer"):
        # a Figure built without pyplot has a bare canvas; text extents need Agg's renderer
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        FigureCanvasAgg(fig)
    renderer = fig.canvas.get_renderer()
    to_px = fig.dpi / 72.0
    family = [font, "DejaVu Sans"] if font is not None else None

    # each label's width and height in pixels, measured once
    sizes = np.empty((len(texts), 2))
    for i, s in enumerate(texts):
        probe = Text(0, 0, s, fontsize=fontsize, figure=fig)
        if family is not None:
            probe.set_fontfamily(family)
        bb = probe.get_window_extent(renderer)
        sizes[i] = (bb.width, bb.height)

    pts = ax.transData.transform(xy)
    half = 0.5 * marker_points * to_px + 1.0
    point_boxes = np.column_stack([pts - half, pts + half])
    frame = ax.get_window_extent(renderer)
    # crowdedness: other points within 40 points
    gap = np.hypot(*(pts[:, None, :] - pts[None, :, :]).transpose(2, 0, 1))
    crowd = (gap < 40.0 * to_px).sum(axis=1)
    order = np.lexsort((np.arange(len(pts)), -crowd))
    placed = np.empty((0, 4))
    choice: list[tuple[tuple[float, float], str, str]] = [((0.0, 0.0), "left", "bottom")] * len(pts)
    for i in order:
        w, h = sizes[i]
        others = np.vstack([placed, np.delete(point_boxes, i, axis=0)])
        best: tuple[float, tuple[tuple[float, float], str, str], np.ndarray] | None = None
        for dist in _DISTANCES:
            for dx, dy, ha, va in _CANDIDATES:
                norm = float(np.hypot(dx, dy))
                offset = (dist * dx / norm, dist * dy / norm)
                anchor_x = pts[i, 0] + offset[0] * to_px
                anchor_y = pts[i, 1] + offset[1] * to_px
                x0 = anchor_x - {"left": 0.0, "right": w, "center": w / 2}[ha]
                y0 = anchor_y - {"bottom": 0.0, "top": h, "center": h / 2}[va]
                box = np.array([x0, y0, x0 + w, y0 + h])
                outside = (
                    max(frame.x0 - box[0], 0.0)
                    + max(box[2] - frame.x1, 0.0)
                    + max(frame.y0 - box[1], 0.0)
                    + max(box[3] - frame.y1, 0.0)
                )
                score = _overlap(box, others) + 1e3 * outside
                if best is None or score < best[0]:
                    best = (score, (offset, ha, va), box)
                if score == 0.0:
                    break
            if best is not None and best[0] == 0.0:
                break
        assert best is not None
        choice[i] = best[1]
        placed = np.vstack([placed, best[2]])

    halo = [pe.withStroke(linewidth=2.0, foreground="white")]
    out = []
    for i, s in enumerate(texts):
        offset, ha, va = choice[i]
        moved = float(np.hypot(*offset)) > _DISTANCES[0] + 1e-9
        ann = ax.annotate(
            s,
            xy[i],
            xytext=offset,
            textcoords="offset points",
            ha=ha,
            va=va,
            fontsize=fontsize,
            zorder=4,
            path_effects=halo,
            # moved away from its point: a thin leader line says whose label it is
            arrowprops=dict(_LEADER) if moved else None,
        )
        if family is not None:
            ann.set_fontfamily(family)
        out.append(ann)
    return out
