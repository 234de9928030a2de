// The network as one ONNX file (IR version 8, default-domain opset 13: ONNX 1.10 and
// later, onnxruntime 1.10 and later). The graph, for layers 0..L-1:
//
//   input [N, inputs] float -> Gemm(W0, b0) -> Relu -> ... -> Gemm(W{L-1}, b{L-1}) -> Softmax(axis 1) -> probabilities [N, classes]
//
// Gemm computes A.B + C with B = W as stored, [in, out], so no transpose is needed. The
// weights are initializers (float32 tensors in raw_data). The field numbers are those of
// onnx/onnx.proto; only the fields written are named.
import { float32LE, foldInput, inputNote, type ExportModel } from './model.js';
import { concat, intField, messageField, stringField, bytesField } from './protobuf.js';

export const IR_VERSION = 8;
export const OPSET = 13;
const INPUT_NAME = 'input';
const OUTPUT_NAME = 'probabilities';

const MODEL = { irVersion: 1, producerName: 2, docString: 6, graph: 7, opsetImport: 8, metadataProps: 14 };
const OPSET_ID = { domain: 1, version: 2 };
const ENTRY = { key: 1, value: 2 };
const GRAPH = { node: 1, name: 2, initializer: 5, docString: 10, input: 11, output: 12 };
const NODE = { input: 1, output: 2, name: 3, opType: 4, attribute: 5 };
const ATTRIBUTE = { name: 1, i: 3, type: 20 };
const ATTRIBUTE_INT = 2;
const TENSOR = { dims: 1, dataType: 2, name: 8, rawData: 9 };
const FLOAT = 1;
const VALUE_INFO = { name: 1, type: 2 };
const TYPE = { tensorType: 1 };
const TENSOR_TYPE = { elemType: 1, shape: 2 };
const SHAPE = { dim: 1 };
const DIMENSION = { dimValue: 1, dimParam: 2 };

/** The .onnx file of a model, taking the raw input (see foldInput). */
export function encodeOnnx(m: ExportModel): Uint8Array {
  const { sizes, W, b } = foldInput(m);
  const last = W.length - 1;
  const nodes: Uint8Array[] = [];
  const initializers: Uint8Array[] = [];
  let x = INPUT_NAME;
  W.forEach((w, l) => {
    initializers.push(tensor(`W${l}`, [sizes[l], sizes[l + 1]], w), tensor(`b${l}`, [sizes[l + 1]], b[l]));
    const z = l === last ? 'logits' : `z${l}`;
    nodes.push(node('Gemm', `gemm${l}`, [x, `W${l}`, `b${l}`], z));
    x = l === last ? z : `h${l + 1}`;
    if (l < last) nodes.push(node('Relu', `relu${l}`, [z], x));
  });
  nodes.push(node('Softmax', 'softmax', [x], OUTPUT_NAME, [intAttribute('axis', 1)]));
  const note = `${sizes.join('-')} MLP trained by threadgrad; ${inputNote(m)}; output: class probabilities`;
  const graph = [
    ...nodes.map((n) => messageField(GRAPH.node, [n])),
    stringField(GRAPH.name, 'threadgrad_mlp'),
    ...initializers.map((t) => messageField(GRAPH.initializer, [t])),
    stringField(GRAPH.docString, note),
    messageField(GRAPH.input, valueInfo(INPUT_NAME, sizes[0])),
    messageField(GRAPH.output, valueInfo(OUTPUT_NAME, sizes[last + 1])),
  ];
  return concat([
    intField(MODEL.irVersion, IR_VERSION),
    stringField(MODEL.producerName, 'threadgrad'),
    stringField(MODEL.docString, note),
    messageField(MODEL.graph, graph),
    // Domain "" is the default ONNX operator set.
    messageField(MODEL.opsetImport, [stringField(OPSET_ID.domain, ''), intField(OPSET_ID.version, OPSET)]),
    messageField(MODEL.metadataProps, [stringField(ENTRY.key, 'input_kind'), stringField(ENTRY.value, m.input.kind)]),
    messageField(MODEL.metadataProps, [stringField(ENTRY.key, 'input_shape'), stringField(ENTRY.value, m.input.shape.join('x'))]),
  ]);
}

function node(opType: string, name: string, inputs: string[], output: string, attributes: Uint8Array[] = []): Uint8Array {
  return concat([
    ...inputs.map((i) => stringField(NODE.input, i)),
    stringField(NODE.output, output),
    stringField(NODE.name, name),
    stringField(NODE.opType, opType),
    ...attributes.map((a) => messageField(NODE.attribute, [a])),
  ]);
}

const intAttribute = (name: string, value: number): Uint8Array =>
  concat([stringField(ATTRIBUTE.name, name), intField(ATTRIBUTE.i, value), intField(ATTRIBUTE.type, ATTRIBUTE_INT)]);

/** dims is a repeated int64 written unpacked, one field per dimension, as proto2 declares it; parsers take either form. */
function tensor(name: string, dims: number[], values: Float32Array): Uint8Array {
  return concat([
    ...dims.map((d) => intField(TENSOR.dims, d)),
    intField(TENSOR.dataType, FLOAT),
    stringField(TENSOR.name, name),
    bytesField(TENSOR.rawData, float32LE([values])),
  ]);
}

/** A float tensor [N, width], N named so that any batch size fits. */
function valueInfo(name: string, width: number): Uint8Array[] {
  const dims = [stringField(DIMENSION.dimParam, 'N'), intField(DIMENSION.dimValue, width)].map((d) => messageField(SHAPE.dim, [d]));
  const tensorType = [intField(TENSOR_TYPE.elemType, FLOAT), messageField(TENSOR_TYPE.shape, dims)];
  return [stringField(VALUE_INFO.name, name), messageField(VALUE_INFO.type, [messageField(TYPE.tensorType, tensorType)])];
}
