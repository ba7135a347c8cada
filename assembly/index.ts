// The engine's exports: one file per kernel family, re-exported here.
export * from "./shared/memory";
export * from "./shared/common";
export * from "./optimizers/adam/step";
export * from "./optimizers/sgd/step";
export * from "./optimizers/adagrad/step";
export * from "./optimizers/rmsprop/step";
export * from "./shared/threads";
export * from "./embedding/apply";
export * from "./shared/clip";
export * from "./optimizers/adamax/step";
export * from "./optimizers/adadelta/step";
export * from "./optimizers/nadam/step";
export * from "./optimizers/radam/step";
export * from "./optimizers/lion/step";
export * from "./optimizers/hypergrad/step";
export * from "./shared/finite";
export * from "./meta/index";
