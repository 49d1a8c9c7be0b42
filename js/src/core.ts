// The raw wasm-bindgen classes and functions, for this package's own files. Kept out of every public type so
// that a consumer's type check never reads the generated glue's declarations.
export * as core from '../../pkg/transformer_playground.js';
export { init } from './wasm.js';
