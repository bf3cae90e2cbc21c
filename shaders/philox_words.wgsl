// Test kernel: Philox words and normals for a list of counters, to compare with src/numeric/philox.rs.

struct Key {
    key: vec2<u32>,
    count: u32,
    pad: u32,
}

@group(0) @binding(0) var<uniform> setup: Key;
@group(0) @binding(1) var<storage, read> counters: array<vec4<u32>>;
@group(0) @binding(2) var<storage, read_write> words: array<vec4<u32>>;
@group(0) @binding(3) var<storage, read_write> normals: array<vec4<f32>>;

@compute @workgroup_size(64)
fn philox_words(@builtin(global_invocation_id) id: vec3<u32>) {
    let index = id.x;
    if (index >= setup.count) {
        return;
    }
    let counter = counters[index];
    words[index] = philox4x32_10(counter, setup.key);
    normals[index] = normals4(setup.key, counter.x, counter.y, counter.z, counter.w);
}
