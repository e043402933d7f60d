"""Figures for the multilayer stage: Mapper graphs and resolution scans (matplotlib Axes)."""
from __future__ import annotations

import numpy as np

__all__ = ["plot_mapper", "plot_resolution_scan", "mapper_node_values", "legend_names"]


def legend_names(communities, names=None) -> list[str]:
    """Legend entries of community ids: each one's structure name where ``names`` has it (a
    sequence indexed by community id, e.g. ``StructureLabels.names``, or a mapping), else the
    id.

    >>> legend_names([0, 2, 5], ["liquid", "fcc", "hcp"])
    ['liquid', 'hcp', '5']
    >>> legend_names([1], {1: "bcc"}), legend_names([1])
    (['bcc'], ['1'])
    """
    from collections.abc import Mapping

    if names is None:
        return [str(c) for c in communities]
    if isinstance(names, Mapping):
        return [str(names.get(c, c)) for c in communities]
    return [str(names[c]) if 0 <= c < len(names) else str(c) for c in communities]


def mapper_node_values(graph, *, color_by="time", labels=None, atom_ids=None, values=None):
    """One value per Mapper node, in ``graph.nodes`` order.

    Parameters
    ----------
    graph : networkx.Graph from :func:`multilayer.network.mapper`
    color_by : {"time", "community", "value"}
        Mean frame; majority community of the members (``labels`` (n_frames, n_atoms) with
        columns ``atom_ids``, e.g. from :func:`multilayer.network.leiden` and
        ``network.atom_ids``); or the members' mean of ``values``, a sequence of per-frame
        (n_t,) arrays aligned with the Mapper input rows (e.g. q6).

    Returns
    -------
    ndarray (n_nodes,), float64 (community: int labels as floats, -1 if none)
    """
    nodes = list(graph.nodes)
    if color_by == "time":
        return np.array([graph.nodes[n]["time"] for n in nodes], dtype=np.float64)
    if color_by == "community":
        if labels is None:
            raise ValueError("color_by='community' needs labels (n_frames, n_atoms)")
        labels = np.asarray(labels)
        atom_ids = np.arange(labels.shape[1]) if atom_ids is None else np.asarray(atom_ids)
        out = []
        for n in nodes:
            d = graph.nodes[n]
            lab = labels[d["frames"], np.searchsorted(atom_ids, d["ids"])]
            lab = lab[lab >= 0]
            out.append(np.bincount(lab).argmax() if len(lab) else -1)
        return np.array(out, dtype=np.float64)
    if color_by == "value":
        if values is None:
            raise ValueError("color_by='value' needs values (per-frame arrays)")
        return np.array([np.mean([values[f][r] for f, r in zip(graph.nodes[n]["frames"],
                                                               graph.nodes[n]["rows"])])
                         for n in nodes], dtype=np.float64)
    raise ValueError(f"color_by must be 'time', 'community' or 'value', got {color_by!r}")


def plot_mapper(graph, *, color_by="time", labels=None, atom_ids=None, values=None,
                value_name="value", ax=None, layout_seed=0, cmap=None, names=None):
    """Draw a Mapper graph, nodes sized by their atoms and coloured by time, community or a
    descriptor (see :func:`mapper_node_values`).  Returns the Axes.  ``names``: the
    structure name of each community id, for the legend of ``color_by="community"``.

    Examples
    --------
    >>> import matplotlib; matplotlib.use("Agg")
    >>> import networkx as nx
    >>> g = nx.Graph()
    >>> g.add_node(0, time=0.0, size=5); g.add_node(1, time=1.0, size=9); g.add_edge(0, 1)
    >>> plot_mapper(g).get_title()
    'Mapper graph coloured by time'
    """
    import matplotlib.pyplot as plt
    import networkx as nx
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4.5))
    vals = mapper_node_values(graph, color_by=color_by, labels=labels, atom_ids=atom_ids,
                              values=values)
    pos = nx.spring_layout(graph, seed=layout_seed) if len(graph) else {}
    sizes = np.array([graph.nodes[n]["size"] for n in graph.nodes], dtype=np.float64)
    sizes = 20 + 280 * np.sqrt(sizes / sizes.max()) if len(sizes) else sizes
    nx.draw_networkx_edges(graph, pos, ax=ax, alpha=0.4)
    if color_by == "community":
        cmap = plt.get_cmap(cmap or "tab10")
        colors = [cmap(int(v) % cmap.N) if v >= 0 else (0.7, 0.7, 0.7, 1.0) for v in vals]
        nx.draw_networkx_nodes(graph, pos, ax=ax, node_color=colors, node_size=sizes)
        for c in np.unique(vals[vals >= 0]).astype(int):
            ax.scatter([], [], color=cmap(c % cmap.N),
                       label=legend_names([c], names)[0] if names is not None
                       else f"community {c}")
        if len(vals):
            ax.legend(loc="best", fontsize="small", frameon=False)
    else:
        art = nx.draw_networkx_nodes(graph, pos, ax=ax, node_color=vals, node_size=sizes,
                                     cmap=plt.get_cmap(cmap or "viridis"))
        if len(vals):
            ax.figure.colorbar(art, ax=ax, label="frame" if color_by == "time" else value_name)
    what = {"time": "time", "community": "community" if names is None else "structure",
            "value": value_name}[color_by]
    ax.set_title(f"Mapper graph coloured by {what}")
    ax.set_axis_off()
    return ax


def plot_resolution_scan(table, *, ax=None):
    """Number of communities (left axis) and mean ARI across seeds (right axis) against the
    resolution, from :func:`multilayer.resolution_scan`.  Returns the Axes."""
    import matplotlib.pyplot as plt
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 3.5))
    res = table["resolution"].to_numpy()
    ax.plot(res, table["n_communities"], "o-", color="C0")
    ax.fill_between(res, table["n_communities_min"], table["n_communities_max"], color="C0",
                    alpha=0.2)
    ax.set_xscale("log" if np.all(res > 0) and len(res) > 1 else "linear")
    ax.set_xlabel("resolution")
    ax.set_ylabel("communities", color="C0")
    twin = ax.twinx()
    twin.plot(res, table["mean_ari"], "s--", color="C1")
    twin.set_ylabel("mean ARI across seeds", color="C1")
    twin.set_ylim(-0.05, 1.05)
    return ax
