//! Finding the ACPI RSDP when the boot protocol does not say where it is: the first KiB of
//! the EBDA, then the BIOS area 0xE0000..0xFFFFF, on 16-byte boundaries.

use crate::bootinfo::PhysicalMemory;

/// The RSDP signature.
pub const SIGNATURE: &[u8; 8] = b"RSD PTR ";
/// Length of an ACPI 1.0 RSDP (checksummed part).
const V1_LEN: usize = 20;
/// Length of an ACPI 2.0+ RSDP.
const V2_LEN: usize = 36;

fn sums_to_zero(bytes: &[u8]) -> bool {
    bytes.iter().fold(0u8, |sum, b| sum.wrapping_add(*b)) == 0
}

/// True if `bytes` start with a valid RSDP (signature, checksum, extended checksum).
pub fn is_valid(bytes: &[u8]) -> bool {
    let Some(v1) = bytes.get(..V1_LEN) else {
        return false;
    };
    if &v1[..8] != SIGNATURE || !sums_to_zero(v1) {
        return false;
    }
    if v1[15] < 2 {
        return true;
    }
    let Some(length) = bytes.get(20..24) else {
        return false;
    };
    let length = u32::from_le_bytes([length[0], length[1], length[2], length[3]]) as usize;
    length >= V2_LEN && bytes.get(..length).is_some_and(sums_to_zero)
}

/// The length of the RSDP at the start of `bytes` (20 or its length field).
pub fn length(bytes: &[u8]) -> usize {
    match (bytes.get(15), bytes.get(20..24)) {
        (Some(revision), Some(len)) if *revision >= 2 => {
            u32::from_le_bytes([len[0], len[1], len[2], len[3]]) as usize
        }
        _ => V1_LEN,
    }
}

fn scan(memory: &impl PhysicalMemory, start: u64, end: u64) -> Option<u64> {
    (start..end).step_by(16).find(|&addr| {
        let available = (end - addr).min(V2_LEN as u64) as usize;
        memory
            .bytes(addr, available)
            .is_some_and(|bytes| bytes.starts_with(SIGNATURE) && is_valid(bytes))
    })
}

/// Searches the EBDA and the BIOS read-only area.
pub fn find(memory: &impl PhysicalMemory) -> Option<u64> {
    let ebda = memory
        .bytes(0x40e, 2)
        .map(|b| u64::from(u16::from_le_bytes([b[0], b[1]])) << 4);
    if let Some(ebda) = ebda.filter(|e| (0x8_0000..0xa_0000).contains(e)) {
        if let Some(found) = scan(memory, ebda, ebda + 1024) {
            return Some(found);
        }
    }
    scan(memory, 0xe_0000, 0x10_0000)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bootinfo::tests::HostMemory;

    fn rsdp_v2() -> [u8; 36] {
        let mut r = [0u8; 36];
        r[..8].copy_from_slice(SIGNATURE);
        r[9..15].copy_from_slice(b"BOCHS ");
        r[15] = 2;
        r[16..20].copy_from_slice(&0x7fe_0000u32.to_le_bytes());
        r[20..24].copy_from_slice(&36u32.to_le_bytes());
        let sum = r[..20].iter().fold(0u8, |s, b| s.wrapping_add(*b));
        r[8] = 0u8.wrapping_sub(sum);
        let sum = r.iter().fold(0u8, |s, b| s.wrapping_add(*b));
        r[32] = 0u8.wrapping_sub(sum);
        r
    }

    #[test]
    fn finds_rsdp_in_bios_area() {
        let mut memory = HostMemory::new(0, 0x10_0000);
        memory.put(0xf5a40, &rsdp_v2());
        assert_eq!(find(&memory), Some(0xf5a40));
        assert_eq!(length(&rsdp_v2()), 36);
    }

    #[test]
    fn finds_rsdp_in_ebda_first() {
        let mut memory = HostMemory::new(0, 0x10_0000);
        memory.put(0x40e, &(0x9fc0u16).to_le_bytes());
        memory.put(0x9fc00 + 0x20, &rsdp_v2());
        memory.put(0xf5a40, &rsdp_v2());
        assert_eq!(find(&memory), Some(0x9fc20));
    }

    #[test]
    fn bad_checksums_are_skipped() {
        let mut memory = HostMemory::new(0, 0x10_0000);
        let mut bad = rsdp_v2();
        bad[8] ^= 1;
        memory.put(0xe0000, &bad);
        let mut bad_extended = rsdp_v2();
        bad_extended[32] ^= 1;
        memory.put(0xe0100, &bad_extended);
        assert_eq!(find(&memory), None);
        assert!(!is_valid(b"RSD PTR "));
    }

    #[test]
    fn missing_memory_finds_nothing() {
        let memory = HostMemory::new(0, 0x1000);
        assert_eq!(find(&memory), None);
    }
}
