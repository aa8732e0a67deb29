//! The EC2 instance types the simulator can launch, with the shape a scheduler sees:
//! allocatable CPU and memory after EKS reservations, and the VPC CNI's pod limit.

/// What an instance type offers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct InstanceShape {
    pub vcpu: u32,
    pub memory_gib: f64,
    /// Pods per node with the VPC CNI without prefix delegation.
    pub max_pods: u32,
    pub arch: &'static str,
}

const fn shape(vcpu: u32, memory_gib: f64, max_pods: u32, arch: &'static str) -> InstanceShape {
    InstanceShape {
        vcpu,
        memory_gib,
        max_pods,
        arch,
    }
}

/// Every instance type a scenario may name; the price table must cover them all.
pub const INSTANCE_TYPES: &[(&str, InstanceShape)] = &[
    ("m6i.large", shape(2, 8.0, 29, "amd64")),
    ("m6i.xlarge", shape(4, 16.0, 58, "amd64")),
    ("m6i.2xlarge", shape(8, 32.0, 58, "amd64")),
    ("m7i.large", shape(2, 8.0, 29, "amd64")),
    ("m7i.xlarge", shape(4, 16.0, 58, "amd64")),
    ("m7i.2xlarge", shape(8, 32.0, 58, "amd64")),
    ("m7g.large", shape(2, 8.0, 29, "arm64")),
    ("m7g.xlarge", shape(4, 16.0, 58, "arm64")),
    ("m7g.2xlarge", shape(8, 32.0, 58, "arm64")),
    ("c6i.large", shape(2, 4.0, 29, "amd64")),
    ("c6i.xlarge", shape(4, 8.0, 58, "amd64")),
    ("c6i.2xlarge", shape(8, 16.0, 58, "amd64")),
    ("c7g.large", shape(2, 4.0, 29, "arm64")),
    ("c7g.xlarge", shape(4, 8.0, 58, "arm64")),
    ("c7g.2xlarge", shape(8, 16.0, 58, "arm64")),
    ("r6i.large", shape(2, 16.0, 29, "amd64")),
    ("r6i.xlarge", shape(4, 32.0, 58, "amd64")),
    ("r6i.2xlarge", shape(8, 64.0, 58, "amd64")),
    ("t3.medium", shape(2, 4.0, 17, "amd64")),
    ("t3.large", shape(2, 8.0, 35, "amd64")),
    ("t3.xlarge", shape(4, 16.0, 58, "amd64")),
];

/// The shape used when a type is unknown (scenarios are checked, so only a patched spec
/// could name one).
const FALLBACK: InstanceShape = shape(4, 16.0, 58, "amd64");

pub fn lookup(instance_type: &str) -> Option<InstanceShape> {
    INSTANCE_TYPES
        .iter()
        .find(|(name, _)| *name == instance_type)
        .map(|(_, shape)| *shape)
}

pub fn shape_of(instance_type: &str) -> InstanceShape {
    lookup(instance_type).unwrap_or(FALLBACK)
}

pub fn names() -> Vec<&'static str> {
    INSTANCE_TYPES.iter().map(|(name, _)| *name).collect()
}

impl InstanceShape {
    /// CPU left for pods after the EKS AMI's kube-reserved share (6% of the first core, 1%
    /// of the second, 0.5% of the next two, 0.25% of the rest).
    pub fn allocatable_cpu_m(&self) -> f64 {
        let cores = f64::from(self.vcpu);
        let reserved = 60.0
            + if cores > 1.0 { 10.0 } else { 0.0 }
            + (cores - 2.0).clamp(0.0, 2.0) * 5.0
            + (cores - 4.0).max(0.0) * 2.5;
        cores * 1000.0 - reserved
    }

    /// Memory left for pods: what the OS sees, minus kube-reserved (255Mi + 11Mi per pod)
    /// and the 100Mi eviction threshold.
    pub fn allocatable_memory_mib(&self) -> f64 {
        let visible = self.memory_gib * 1024.0 * 0.95;
        visible - (255.0 + 11.0 * f64::from(self.max_pods)) - 100.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allocatable_is_plausible() {
        let xlarge = shape_of("m6i.xlarge");
        assert_eq!(xlarge.allocatable_cpu_m(), 3920.0);
        let memory = xlarge.allocatable_memory_mib();
        assert!((14_000.0..15_000.0).contains(&memory), "{memory}");
        assert!(lookup("m6i.huge").is_none());
        assert_eq!(names().len(), INSTANCE_TYPES.len());
    }
}
