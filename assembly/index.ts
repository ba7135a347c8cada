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
