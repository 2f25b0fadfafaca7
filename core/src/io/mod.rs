//! Saving and loading arrays: `.npy`, `.npz` and `.safetensors` (filled in by the io work).
