//! Every reachable kernel variant parses and validates with naga.

use mlx_arm_core::primitive::{ArgReduceOp, ReduceOp, ScanOp, ALL_BINARY, ALL_UNARY};
use mlx_arm_core::Dtype;
use mlx_arm_wgsl::sources::{KernelKey, MapOp, ScaleStore};
use mlx_arm_wgsl::Scalar;

const GPU_DTYPES: [Dtype; 10] = [
    Dtype::Bool,
    Dtype::Uint8,
    Dtype::Uint16,
    Dtype::Uint32,
    Dtype::Int8,
    Dtype::Int16,
    Dtype::Int32,
    Dtype::Float16,
    Dtype::Bfloat16,
    Dtype::Float32,
];

fn validate(key: &KernelKey) {
    let Some(src) = key.source() else { return };
    let module = naga::front::wgsl::parse_str(&src)
        .unwrap_or_else(|e| panic!("{key}: {}", e.emit_to_string(&src)));
    let mut v = naga::valid::Validator::new(
        naga::valid::ValidationFlags::all(),
        naga::valid::Capabilities::all(),
    );
    v.validate(&module)
        .unwrap_or_else(|e| panic!("{key}: {}", e.emit_to_string(&src)));
}

fn all_keys() -> Vec<KernelKey> {
    let mut keys = vec![];
    for &d in &GPU_DTYPES {
        for op in ALL_UNARY {
            keys.push(KernelKey::Map {
                op: MapOp::Unary(op),
                inputs: vec![d],
                out: if op.outputs_bool() { Dtype::Bool } else { d },
                scalars: 0,
            });
        }
        for op in ALL_BINARY {
            for scalars in [0, 1, 2] {
                keys.push(KernelKey::Map {
                    op: MapOp::Binary(op),
                    inputs: vec![d, d],
                    out: if op.outputs_bool() { Dtype::Bool } else { d },
                    scalars,
                });
            }
        }
        for scalars in [0, 1, 2, 4, 6] {
            keys.push(KernelKey::Map {
                op: MapOp::Select,
                inputs: vec![Dtype::Bool, d, d],
                out: d,
                scalars,
            });
        }
        keys.push(KernelKey::Map {
            op: MapOp::Copy,
            inputs: vec![d],
            out: d,
            scalars: 0,
        });
        for &t in &GPU_DTYPES {
            keys.push(KernelKey::Map {
                op: MapOp::Cast,
                inputs: vec![d],
                out: t,
                scalars: 0,
            });
        }
        for op in [ReduceOp::Sum, ReduceOp::Prod, ReduceOp::Max, ReduceOp::Min] {
            keys.push(KernelKey::Reduce {
                op,
                input: d,
                out: d,
            });
            keys.push(KernelKey::ReduceCols {
                op,
                input: d,
                out: d,
            });
        }
        for op in [ReduceOp::And, ReduceOp::Or] {
            keys.push(KernelKey::Reduce {
                op,
                input: d,
                out: Dtype::Bool,
            });
            keys.push(KernelKey::ReduceCols {
                op,
                input: d,
                out: Dtype::Bool,
            });
        }
        for op in [ArgReduceOp::ArgMax, ArgReduceOp::ArgMin] {
            keys.push(KernelKey::ArgReduce { op, input: d });
        }
        for op in [ScanOp::Sum, ScanOp::Prod, ScanOp::Max, ScanOp::Min] {
            keys.push(KernelKey::Scan { op, dtype: d });
        }
        keys.push(KernelKey::Matmul { dtype: d, tile: 64 });
        keys.push(KernelKey::Matmul {
            dtype: d,
            tile: 128,
        });
        keys.push(KernelKey::Softmax {
            dtype: d,
            lse: false,
        });
        keys.push(KernelKey::Softmax {
            dtype: d,
            lse: true,
        });
        keys.push(KernelKey::RmsNorm { dtype: d });
        keys.push(KernelKey::Sdpa { dtype: d });
        keys.push(KernelKey::Rope { dtype: d });
        keys.push(KernelKey::Gemv { dtype: d });
        for (a_km, b_km) in [(false, false), (false, true), (true, false), (true, true)] {
            keys.push(KernelKey::MatmulCoop {
                dtype: d,
                a_km,
                b_km,
            });
        }
        for hd in [16, 64, 80, 128] {
            for rows in [32, 64] {
                keys.push(KernelKey::SdpaCoop {
                    dtype: d,
                    d: hd,
                    rows,
                });
            }
        }
        keys.push(KernelKey::Gather {
            along: false,
            dtype: d,
        });
        keys.push(KernelKey::Gather {
            along: true,
            dtype: d,
        });
        for store in [ScaleStore::Wide, ScaleStore::F16, ScaleStore::Bf16] {
            keys.push(KernelKey::GatherRows { dtype: d, store });
        }
        keys.push(KernelKey::Scatter {
            add: false,
            dtype: d,
        });
        keys.push(KernelKey::Scatter {
            add: true,
            dtype: d,
        });
        keys.push(KernelKey::Sort {
            dtype: d,
            indices: false,
        });
        keys.push(KernelKey::Sort {
            dtype: d,
            indices: true,
        });
        if d != Dtype::Bool {
            keys.push(KernelKey::Arange { dtype: d });
        }
    }
    keys.push(KernelKey::RandomBits);
    keys.push(KernelKey::QuantizeX);
    keys.push(KernelKey::Unpack16 { bf16: false });
    keys.push(KernelKey::Unpack16 { bf16: true });
    for dtype in [Dtype::Float32, Dtype::Float16, Dtype::Bfloat16] {
        for bits in [2, 3, 4, 5, 6, 8] {
            for store in ScaleStore::ALL {
                keys.push(KernelKey::QDequantize { dtype, bits, store });
            }
            for rows in 1..=4 {
                for rpw in [1, 4, 16] {
                    for warps in [1, 2, 8] {
                        for (unroll, subgroups) in [(1, false), (2, true), (4, true)] {
                            if unroll == 4 && rpw > 4 {
                                continue;
                            }
                            // every store, spread over the other combinations
                            let store = ScaleStore::ALL[keys.len() % 4];
                            for int8 in [false, true] {
                                if int8 && bits != 4 {
                                    continue;
                                }
                                keys.push(KernelKey::QMatvec {
                                    dtype,
                                    bits,
                                    rows,
                                    rpw,
                                    warps,
                                    unroll,
                                    subgroups,
                                    store,
                                    int8,
                                    residual: (rows + rpw) % 2 == 1,
                                    chunks: !int8 && (rows + warps) % 2 == 1,
                                    norm: !int8 && (rows + unroll) % 2 == 0,
                                    glu: rpw >= 2 && (rows + warps) % 3 == 0,
                                    rope: rpw >= 2 && (rows + warps) % 3 == 1,
                                });
                            }
                        }
                    }
                }
            }
            for transpose in [true, false] {
                for store in ScaleStore::ALL {
                    if transpose {
                        for (rows, kstep, warp_rows) in [
                            (64, 32, 32),
                            (128, 32, 32),
                            (128, 64, 32),
                            (128, 64, 64),
                            (128, 32, 64),
                        ] {
                            keys.push(KernelKey::QMatmulCoop {
                                dtype,
                                bits,
                                store,
                                rows,
                                kstep,
                                warp_rows,
                            });
                        }
                    }
                    for tile128 in [false, true] {
                        keys.push(KernelKey::QMatmul {
                            dtype,
                            bits,
                            transpose,
                            store,
                            tile128,
                        });
                    }
                }
            }
        }
    }
    let vec4: Vec<KernelKey> = keys
        .iter()
        .filter_map(|k| match k {
            KernelKey::Map {
                op,
                inputs,
                out,
                scalars,
            } => Some(KernelKey::MapVec4 {
                op: *op,
                inputs: inputs.clone(),
                out: *out,
                scalars: *scalars,
            }),
            _ => None,
        })
        .collect();
    keys.extend(vec4);
    keys
}

#[test]
fn every_variant_validates() {
    let keys = all_keys();
    assert!(keys.len() > 1500);
    for k in &keys {
        validate(k);
    }
}

#[test]
fn scalars_cover_the_32_bit_dtypes() {
    assert_eq!(Scalar::of(Dtype::Float16), Some(Scalar::F32));
    assert_eq!(Scalar::of(Dtype::Int64), None);
}
