"""The expanded layer graph: nodes in topological order with their inputs as indices.

Stage two of the pipeline. The spec expander already guarantees that a layer only takes
outputs of earlier layers (so the order is topological and there are no cycles); the graph
indexes them; group_name says which block or stage a layer is in.
"""

from .spec import NETWORK_INPUT, REFERENCE_KEYS

INPUT_INDEX = -1


class Graph:
    def __init__(self, spec):
        self.spec = spec
        self.nodes = spec.layers
        index = {node.name: i for i, node in enumerate(self.nodes)}
        index[NETWORK_INPUT] = INPUT_INDEX
        self.index = index
        self.inputs = [[index[name] for name in node.inputs] for node in self.nodes]
        # the layers a node's reference keys (`like`) name: their shapes are read, they are not inputs
        self.references = [{key: index[node.keys[key]] for key in REFERENCE_KEYS if node.keys.get(key) is not None}
                           for node in self.nodes]

    def __len__(self):
        return len(self.nodes)


def group_name(name, depth):
    """The first ``depth`` parts of a hierarchical name: ``layer1.0.conv1`` at depth 1 is ``layer1``."""
    return ".".join(name.split(".")[:depth])
