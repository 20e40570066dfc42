// The one home of ONNX graphs: the ONNX writer and every graph the product builds (the tfjs-layers
// conversion, the fused detector, the paper-RGB input, the explainers' gradient graphs and the
// training graphs). Everything outside this folder imports from here; lint keeps it so.
export { ConversionError, type ConversionErrorCode } from './conversion-error';
export { convertLayersModel, DEFAULT_INPUT_NAME, POOLED_OUTPUT, type ConvertedModel, type ConvertOptions } from './keras-to-onnx';
export {
  buildDetectorOnnx,
  buildHeadOnnx,
  FEATURES_OUTPUT,
  HEAD_CONTEXT_OUTPUT,
  IMAGE_INPUT,
  P_SYNTHETIC_OUTPUT,
  PAPER_RGB_INPUT,
  scoreHeadReference,
  withPaperRgbInput,
  type DetectorOptions,
  type HeadInput,
  type HeadWeights,
  type PaperRgbInputOptions,
} from './detector';
export { decodeWeights, loadLayersFolderSource, loadNsfwjsSource, NSFWJS_MODELS, nsfwjsPackage, type DecodedWeight, type LayersModelSource } from './tfjs-source';
export { buildNchwcProbeOnnx, NCHWC_DOMAIN, NCHWC_PROBE_INPUT, nchwcBlockSizeFromProbe } from './nchwc';
export { withDownUpInput, withResidualInput, type DownUpInputOptions, type ResidualInputOptions } from './input-filters';
export { buildLayerGradientOnnx, GRADIENT_INPUT, GRADIENT_OUTPUT, GRADIENT_P_OUTPUT } from './layer-gradient';
export {
  buildTrainingGraph,
  HEAD_LAYERS,
  TRAIN_DROPOUT_INPUT,
  TRAIN_IMAGES_INPUT,
  TRAIN_LABELS_INPUT,
  TRAIN_LOGIT_OUTPUT,
  TRAIN_LOSS_OUTPUT,
  TRAIN_P_OUTPUT,
  TRAIN_WEIGHTS_INPUT,
  type ParamKind,
  type TrainableParam,
  type TrainingGraph,
  type TrainingGraphLayer,
  type TrainingGraphOptions,
  type TrainingHead,
} from './training-graph';
