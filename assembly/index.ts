// The engine's exports: one file per kernel family, re-exported here.
export * from "./memory";
export * from "./common";
export * from "./adam";
export * from "./sgd";
export * from "./adagrad";
export * from "./rmsprop";
export * from "./roofline";
export * from "./threads";
export * from "./embedding";
export * from "./clip";
export * from "./adamax";
export * from "./adadelta";
export * from "./nadam";
export * from "./radam";
export * from "./lion";
export * from "./hypergrad";
export * from "./finite";
