//! Random numbers (filled in by the random work).
