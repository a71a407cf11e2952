/**
 * forkwire: Node's `fork()` IPC channel spoken by Rust, and a Rust
 * worker-pool engine for Node.js.
 */

/** The version of the loaded native addon (the Rust crate's version). */
export declare function nativeVersion(): string
