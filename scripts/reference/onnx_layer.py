"""Find the ONNX tensor that carries a torch module's output in a torch 1.13 export.

torch 1.13 names every exported node after its module scope ('/layer4/layer4.1/relu_1/Relu'), so a
module's output is the tensor produced inside its scope and consumed outside it (or a graph
output). When torchvision applies an in-place op after the module (densenet's F.relu), the
reference tensor is the output of that op instead: ``post`` names its ONNX op type.
"""
from __future__ import annotations

from typing import Optional

import onnx


def module_output_tensor(model: onnx.ModelProto, scope: str, post: Optional[str] = None) -> str:
    nodes = list(model.graph.node)
    inside = [i for i, n in enumerate(nodes) if n.name.startswith(scope)]
    if not inside:
        raise LookupError(f'no ONNX node in scope {scope}')
    in_scope = set(inside)
    consumers: dict[str, list[int]] = {}
    for i, n in enumerate(nodes):
        for name in n.input:
            consumers.setdefault(name, []).append(i)
    graph_outputs = {o.name for o in model.graph.output}
    leaving = [
        (i, out) for i in inside for out in nodes[i].output
        if out in graph_outputs or any(j not in in_scope for j in consumers.get(out, []))
    ]
    # Shape/Size nodes may read an inner tensor for a dynamic Reshape; the data output comes last.
    leaving = [(i, out) for i, out in leaving if nodes[i].op_type not in ('Shape', 'Size', 'Constant')]
    if not leaving:
        raise LookupError(f'no tensor leaves scope {scope}')
    tensor = max(leaving)[1]
    if post is not None:
        users = [nodes[j] for j in consumers.get(tensor, [])]
        if len(users) != 1 or users[0].op_type.lower() != post.lower():
            found = ', '.join(f'{u.op_type} {u.name}' for u in users) or 'none'
            raise LookupError(f'expected one {post} after {tensor}, found: {found}')
        tensor = users[0].output[0]
    return tensor


def tensor_dims(model: onnx.ModelProto, tensor: str) -> Optional[list]:
    """Per-tensor dims from ONNX shape inference (dim_param strings for symbolic dims)."""
    inferred = onnx.shape_inference.infer_shapes(model)
    for vi in list(inferred.graph.value_info) + list(inferred.graph.output):
        if vi.name == tensor and vi.type.tensor_type.HasField('shape'):
            dims = [d.dim_param if d.dim_param else d.dim_value for d in vi.type.tensor_type.shape.dim]
            return dims or None  # rank unknown (shufflenet's dynamic Reshape)
    return None


def head_op_types(model: onnx.ModelProto, tensor: str) -> list[str]:
    """Distinct op types on paths from ``tensor`` to the outputs (the part heatgate differentiates),
    in graph order. Assumes the graph is topologically sorted, as ONNX requires."""
    reached, ops = {tensor}, []
    for node in model.graph.node:
        if any(name in reached for name in node.input):
            reached.update(node.output)
            if node.op_type not in ops:
                ops.append(node.op_type)
    return ops
