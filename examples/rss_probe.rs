//! Whether a driver keeps memory that wgpu frees: a bare-wgpu loop of
//! upload, dispatch and readback (no conv2d-wgpu code in the loop), run three
//! ways, printing the growth of the resident set over the loop:
//! - `reuse`: buffers and bind group made once (what the crate does now);
//! - `bind_group`: a new bind group per call;
//! - `buffers`: new buffers and bind group per call (dropped after each call).
//!
//! ```sh
//! VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json WGPU_BACKEND=vulkan \
//!   cargo run --release --example rss_probe -- 9000
//! ```
//! Linux only (reads /proc/self/status).

use conv2d_wgpu::wgpu;

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("Linux /proc");
    let line = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .expect("VmRSS");
    line.split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .expect("a number")
}

struct Bare {
    device: wgpu::Device,
    queue: wgpu::Queue,
    pipeline: wgpu::ComputePipeline,
}

impl Bare {
    fn buffers(&self) -> [wgpu::Buffer; 3] {
        use wgpu::BufferUsages as U;
        let buffer = |usage| {
            self.device.create_buffer(&wgpu::BufferDescriptor {
                label: None,
                size: 256 * 4,
                usage,
                mapped_at_creation: false,
            })
        };
        [
            buffer(U::STORAGE | U::COPY_DST),
            buffer(U::STORAGE | U::COPY_SRC),
            buffer(U::MAP_READ | U::COPY_DST),
        ]
    }

    fn bind(&self, [x, y, _]: &[wgpu::Buffer; 3]) -> wgpu::BindGroup {
        self.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: None,
            layout: &self.pipeline.get_bind_group_layout(0),
            entries: &[
                wgpu::BindGroupEntry {
                    binding: 0,
                    resource: x.as_entire_binding(),
                },
                wgpu::BindGroupEntry {
                    binding: 1,
                    resource: y.as_entire_binding(),
                },
            ],
        })
    }

    fn call(&self, buffers: &[wgpu::Buffer; 3], bind: &wgpu::BindGroup) {
        let [x, y, staging] = buffers;
        self.queue.write_buffer(x, 0, &[0u8; 1024]);
        let mut encoder = self.device.create_command_encoder(&Default::default());
        {
            let mut pass = encoder.begin_compute_pass(&Default::default());
            pass.set_pipeline(&self.pipeline);
            pass.set_bind_group(0, bind, &[]);
            pass.dispatch_workgroups(4, 1, 1);
        }
        encoder.copy_buffer_to_buffer(y, 0, staging, 0, 1024);
        self.queue.submit([encoder.finish()]);
        staging
            .slice(..)
            .map_async(wgpu::MapMode::Read, |r| r.unwrap());
        self.device
            .poll(wgpu::PollType::wait_indefinitely())
            .unwrap();
        staging.unmap();
    }
}

fn main() {
    let calls: u64 = std::env::args()
        .nth(1)
        .map_or(9000, |n| n.parse().expect("a count"));
    let instance =
        wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle_from_env());
    let adapter = pollster::block_on(instance.request_adapter(&Default::default())).unwrap();
    let (device, queue) = pollster::block_on(adapter.request_device(&Default::default())).unwrap();
    let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
        label: None,
        source: wgpu::ShaderSource::Wgsl(
            "@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) i: vec3<u32>) {
    y[i.x] = x[i.x] * 2.0;
}"
            .into(),
        ),
    });
    let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
        label: None,
        layout: None,
        module: &module,
        entry_point: Some("main"),
        compilation_options: Default::default(),
        cache: None,
    });
    let bare = Bare {
        device,
        queue,
        pipeline,
    };
    println!(
        "adapter: {} ({:?}), {calls} calls per way",
        adapter.get_info().name,
        adapter.get_info().backend
    );
    let fixed = bare.buffers();
    let fixed_bind = bare.bind(&fixed);
    for way in ["reuse", "bind_group", "buffers"] {
        let run = |n: u64| {
            for _ in 0..n {
                match way {
                    "reuse" => bare.call(&fixed, &fixed_bind),
                    "bind_group" => bare.call(&fixed, &bare.bind(&fixed)),
                    _ => {
                        let buffers = bare.buffers();
                        bare.call(&buffers, &bare.bind(&buffers));
                    }
                }
            }
        };
        run(calls / 10); // warm-up
        let start = rss_kib();
        run(calls);
        let grown = rss_kib() as i64 - start as i64;
        println!(
            "{way}: RSS grew {grown} KiB over {calls} calls ({:.1} bytes per call)",
            grown as f64 * 1024.0 / calls as f64
        );
    }
}
