//! A wgpu application that runs two conv layers between passes of its own,
//! all in one command buffer:
//!
//! 1. its own compute pass draws a procedural image into a storage buffer;
//! 2. two `GpuConv2d` layers are recorded into the same encoder with `encode`;
//! 3. its own compute pass reduces the result to one sum per channel;
//!
//! then one submit, and the sums are checked against the CPU reference.
//!
//! ```sh
//! cargo run --release --example wgpu_app
//! ```

use conv2d_wgpu::wgpu::{self, BufferUsages};
use conv2d_wgpu::{
    conv2d_cpu, Activation, Conv2dParams, GpuContext, GpuConv2d, GpuTensor, Padding,
};
use ndarray::{Array1, Array4};

const SHAPE: [usize; 4] = [1, 64, 80, 4];

/// The application's kernels: the image, and per-channel sums (one invocation
/// per channel: small, and exact in order, like the check below).
const APP_WGSL: &str = "
struct Dims { h: u32, w: u32, c: u32, _pad: u32 }
@group(0) @binding(0) var<uniform> dims: Dims;
@group(0) @binding(1) var<storage, read_write> image: array<f32>;
@group(0) @binding(2) var<storage, read_write> sums: array<f32>;

@compute @workgroup_size(64)
fn draw(@builtin(global_invocation_id) id: vec3<u32>) {
    let n = dims.h * dims.w * dims.c;
    if id.x >= n { return; }
    _ = sums[0];
    let c = id.x % dims.c;
    let x = f32((id.x / dims.c) % dims.w) / f32(dims.w);
    let y = f32(id.x / (dims.c * dims.w)) / f32(dims.h);
    image[id.x] = sin(12.0 * x + f32(c)) * cos(9.0 * y) + select(0.0, 1.0, (x - 0.5) * (x - 0.5) + (y - 0.5) * (y - 0.5) < 0.04);
}

@compute @workgroup_size(1)
fn reduce(@builtin(global_invocation_id) id: vec3<u32>) {
    var total = 0.0;
    for (var i = id.x; i < dims.h * dims.w * dims.c; i += dims.c) {
        total += image[i];
    }
    sums[id.x] = total;
}
";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The application's own device.
    let instance =
        wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle_from_env());
    let adapter = pollster::block_on(instance.request_adapter(&Default::default()))?;
    let (device, queue) = pollster::block_on(adapter.request_device(&Default::default()))?;
    println!("application device: {}", adapter.get_info().name);
    let ctx = GpuContext::from_wgpu(device.clone(), queue.clone());

    // Two layers: 3x3 4 -> 8 (ReLU), then 3x3 stride 2 8 -> 6 (tanh).
    let w1 = Array4::from_shape_fn((3, 3, 4, 8), |(a, b, c, d)| {
        ((a * 7 + b * 5 + c * 3 + d) % 11) as f32 / 11.0 - 0.45
    });
    let b1 = Array1::from_shape_fn(8, |i| i as f32 * 0.05 - 0.2);
    let w2 = Array4::from_shape_fn((3, 3, 8, 6), |(a, b, c, d)| {
        ((a * 3 + b * 7 + c * 5 + d * 2) % 13) as f32 / 13.0 - 0.5
    });
    let p1 = Conv2dParams {
        padding: Padding::Same,
        activation: Activation::Relu,
        ..Default::default()
    };
    let p2 = Conv2dParams {
        stride: [2, 2],
        padding: Padding::Same,
        activation: Activation::Tanh,
        ..Default::default()
    };
    let first = GpuConv2d::new(&ctx, w1.view(), Some(b1.view()), p1)?;
    let second = GpuConv2d::new(&ctx, w2.view(), None, p2)?;

    // The application's buffers, handed to the crate as tensors.
    let tensor_usage = BufferUsages::STORAGE | BufferUsages::COPY_SRC | BufferUsages::COPY_DST;
    let storage = |label, elements: usize, usage| {
        device.create_buffer(&wgpu::BufferDescriptor {
            label: Some(label),
            size: 4 * elements as u64,
            usage,
            mapped_at_creation: false,
        })
    };
    let image = GpuTensor::from_buffer(
        &ctx,
        storage("image", SHAPE.iter().product(), tensor_usage),
        SHAPE,
    )?;
    let middle = ctx.zeros(first.output_shape(SHAPE)?)?;
    let out_shape = second.output_shape(middle.shape())?;
    let output = GpuTensor::from_buffer(
        &ctx,
        storage("features", out_shape.iter().product(), tensor_usage),
        out_shape,
    )?;
    let sums = storage(
        "sums",
        out_shape[3],
        BufferUsages::STORAGE | BufferUsages::COPY_SRC,
    );
    let readback = storage(
        "readback",
        out_shape[3],
        BufferUsages::MAP_READ | BufferUsages::COPY_DST,
    );

    let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
        label: Some("app"),
        source: wgpu::ShaderSource::Wgsl(APP_WGSL.into()),
    });
    let pass = |encoder: &mut wgpu::CommandEncoder,
                entry: &str,
                dims: [u32; 4],
                data: &wgpu::Buffer,
                groups: u32| {
        let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
            label: Some(entry),
            layout: None,
            module: &module,
            entry_point: Some(entry),
            compilation_options: Default::default(),
            cache: None,
        });
        let uniform = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("dims"),
            size: 16,
            usage: BufferUsages::UNIFORM | BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        queue.write_buffer(&uniform, 0, bytemuck::cast_slice(&dims));
        let bind_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some(entry),
            layout: &pipeline.get_bind_group_layout(0),
            entries: &[
                wgpu::BindGroupEntry {
                    binding: 0,
                    resource: uniform.as_entire_binding(),
                },
                wgpu::BindGroupEntry {
                    binding: 1,
                    resource: data.as_entire_binding(),
                },
                wgpu::BindGroupEntry {
                    binding: 2,
                    resource: sums.as_entire_binding(),
                },
            ],
        });
        let mut compute = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
            label: Some(entry),
            timestamp_writes: None,
        });
        compute.set_pipeline(&pipeline);
        compute.set_bind_group(0, &bind_group, &[]);
        compute.dispatch_workgroups(groups, 1, 1);
    };

    let image_buffer = image.buffer().clone();
    let output_buffer = output.buffer().clone();
    let in_dims = [SHAPE[1] as u32, SHAPE[2] as u32, SHAPE[3] as u32, 0];
    let out_dims = [
        out_shape[1] as u32,
        out_shape[2] as u32,
        out_shape[3] as u32,
        0,
    ];
    let before = ctx.stats();
    let mut encoder = device.create_command_encoder(&Default::default());
    pass(
        &mut encoder,
        "draw",
        in_dims,
        &image_buffer,
        (SHAPE.iter().product::<usize>() as u32).div_ceil(64),
    );
    first.encode(&mut encoder, &image, &middle)?;
    second.encode(&mut encoder, &middle, &output)?;
    pass(
        &mut encoder,
        "reduce",
        out_dims,
        &output_buffer,
        out_shape[3] as u32,
    );
    encoder.copy_buffer_to_buffer(&sums, 0, &readback, 0, readback.size());
    queue.submit([encoder.finish()]); // the application's one submit
    readback.map_async(wgpu::MapMode::Read, .., |r| r.expect("map"));
    device.poll(wgpu::PollType::wait_indefinitely())?;
    let gpu_sums: Vec<f32> = bytemuck::cast_slice(&readback.get_mapped_range(..)?).to_vec();
    assert_eq!(
        ctx.stats().submits,
        before.submits,
        "the crate submitted nothing itself"
    );

    // The same on the CPU: the image the draw pass made, both layers, the sums.
    let drawn = image.to_array()?;
    let y = conv2d_cpu(drawn.view(), w1.view(), Some(b1.view()), p1)?;
    let y = conv2d_cpu(y.view(), w2.view(), None, p2)?;
    let cpu_sums: Vec<f32> = (0..out_shape[3])
        .map(|c| y.index_axis(ndarray::Axis(3), c).iter().sum())
        .collect();
    let pixels = (out_shape[1] * out_shape[2]) as f32;
    println!("channel  GPU sum      CPU sum      |diff|");
    let mut worst = 0.0f32;
    for (c, (g, r)) in gpu_sums.iter().zip(&cpu_sums).enumerate() {
        println!("{c:>7}  {g:>11.5}  {r:>11.5}  {:.2e}", (g - r).abs());
        worst = worst.max((g - r).abs());
    }
    // tanh outputs are within [-1, 1]: summing n of them in f32 rounds by at
    // most n * eps * sum |y| <= n^2 eps (each side), and each element may
    // differ by the conv tolerance (below 1e-5 for these K = 72 layers).
    let tolerance = 2.0 * pixels * pixels * f32::EPSILON + pixels * 1e-5;
    assert!(
        worst <= tolerance,
        "largest difference {worst} > {tolerance}"
    );
    println!("per-channel sums match the CPU reference (largest difference {worst:.2e}, tolerance {tolerance:.2e})");
    Ok(())
}
