// Meta-gradient kernels: each optimizer family's step fused with its forward-mode tangents.
export * from "./layout";
export * from "./adam";
export * from "./sgd";
export * from "./rmsprop";
export * from "./adagrad";
