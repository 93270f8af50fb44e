//! Known answers from a device image written by stock lvm2 2.03.16 (see fixtures/README.md):
//! our decoders read it, our CRC reproduces lvm2's checksums, and our encoders reproduce its
//! header bytes exactly.

use lvmeta_ondisk::crc::{lvm_crc, INITIAL_CRC};
use lvmeta_ondisk::dev::MemDev;
use lvmeta_ondisk::label::{
    decode_label_sector, encode_label_sector, read_label, DiskLocn, PV_EXT_USED,
};
use lvmeta_ondisk::mda::{read_mda, read_text, MdaHeader, RawLocn};
use lvmeta_ondisk::store::text_seqno;
use lvmeta_ondisk::Bytes;

const IMG: &[u8] = include_bytes!("fixtures/lvm2-vg-head.img");
const TXT: &str = include_str!("fixtures/lvm2-vg-head.txt");

fn device() -> MemDev {
    // The image is the head of a 64 MiB device; pad it so the label's bounds hold.
    let mut data = IMG.to_vec();
    data.resize(64 << 20, 0);
    MemDev::from_bytes("/fixture/loop", data)
}

#[test]
fn crc_known_answers_from_lvm2() {
    let label = &IMG[512..1024];
    assert_eq!(lvm_crc(INITIAL_CRC, &label[20..]), 0x5138_c63a);
    assert_eq!(
        u32::from_le_bytes(label[16..20].try_into().unwrap()),
        0x5138_c63a
    );
    let mdah = &IMG[4096..4608];
    assert_eq!(lvm_crc(INITIAL_CRC, &mdah[4..]), 0x40bd_4c50);
    // The text checksum covers the text and its trailing NUL (1009 + 1 bytes).
    let text = &IMG[4096 + 1536..4096 + 1536 + 1010];
    assert_eq!(text[1009], 0);
    assert_eq!(lvm_crc(INITIAL_CRC, text), 0x9f2b_6b0f);
}

#[test]
fn label_decodes_and_reencodes_byte_for_byte() {
    let label = decode_label_sector(&IMG[512..1024], 1).unwrap().unwrap();
    assert_eq!(label.pv_uuid, "QUD0PnsSdjzo9BpYIOc9fMUxgyhCK9LH");
    assert_eq!(label.device_size, Bytes(64 << 20));
    assert_eq!(label.data_areas, vec![DiskLocn::new(1 << 20, 0)]);
    assert_eq!(label.metadata_areas, vec![DiskLocn::new(4096, 1_044_480)]);
    let ext = label.extension.clone().unwrap();
    assert_eq!(
        (ext.version, ext.flags, ext.bootloader_areas.len()),
        (2, PV_EXT_USED, 0)
    );
    assert_eq!(
        &encode_label_sector(&label, 1).unwrap()[..],
        &IMG[512..1024]
    );
    assert_eq!(read_label(&device()).unwrap(), Some(label));
}

#[test]
fn mda_header_decodes_and_reencodes_byte_for_byte() {
    let h = MdaHeader::decode(&IMG[4096..4608]).unwrap();
    assert_eq!((h.start, h.size), (Bytes(4096), Bytes(1_044_480)));
    assert_eq!(
        *h.committed(),
        RawLocn {
            offset: Bytes(1536),
            size: Bytes(1010),
            checksum: 0x9f2b_6b0f,
            flags: 0
        }
    );
    assert!(h.precommitted().is_empty());
    assert_eq!(&h.encode()[..], &IMG[4096..4608]);
}

#[test]
fn committed_text_equals_pvck_dump() {
    let d = device();
    let c = read_mda(&d, DiskLocn::new(4096, 1_044_480)).unwrap();
    let t = c.committed.unwrap();
    assert_eq!(t.text, TXT);
    assert_eq!(text_seqno(&t.text), Some(2));
    assert!(c.precommitted.is_none());
    // The older copy (vgcreate's, seqno 1) is still intact at 512, and the new one started
    // at the first 512-byte boundary after it — lvm2's placement rule.
    let old_size = (1..1024).find(|&n| IMG[4096 + 512 + n - 1] == 0).unwrap() as u64;
    assert_eq!((512 + old_size).div_ceil(512) * 512, 1536);
    let old = RawLocn {
        offset: Bytes(512),
        size: Bytes(old_size),
        checksum: lvm_crc(
            INITIAL_CRC,
            &IMG[4096 + 512..4096 + 512 + old_size as usize],
        ),
        flags: 0,
    };
    let old_text = read_text(&d, &c.header, &old).unwrap();
    assert_eq!(text_seqno(&old_text.text), Some(1));
    // The padding after each copy up to the next sector boundary is zero.
    assert!(IMG[4096 + 1536 + 1010..4096 + 2560].iter().all(|&b| b == 0));
}
