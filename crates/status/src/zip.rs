//! A streaming ZIP writer: entries are deflated as data arrives (or take ready deflate data as
//! it is), sizes and CRC follow in data descriptors, and ZIP64 records are written when sizes,
//! offsets or the entry count exceed the classic format. Output accumulates in a buffer that
//! the caller drains as it goes. Kept by hand: the `zip` crates need a seekable writer or buffer
//! whole entries, and none appends pre-compressed deflate data into an entry.

use flate2::Compression;
use flate2::write::DeflateEncoder;
use std::io::Write;
use userhub_store::outcome_blob::FINAL_EMPTY_BLOCK;

const LOCAL_HEADER_SIGNATURE: u32 = 0x0403_4b50;
const DATA_DESCRIPTOR_SIGNATURE: u32 = 0x0807_4b50;
const CENTRAL_HEADER_SIGNATURE: u32 = 0x0201_4b50;
const ZIP64_END_SIGNATURE: u32 = 0x0606_4b50;
const ZIP64_LOCATOR_SIGNATURE: u32 = 0x0706_4b50;
const END_SIGNATURE: u32 = 0x0605_4b50;
const ZIP64_EXTRA_TAG: u16 = 0x0001;
/// Bit 3: sizes follow in a data descriptor; bit 11: names are UTF-8.
const FLAGS: u16 = 0x0008 | 0x0800;
const METHOD_DEFLATE: u16 = 8;
const VERSION_DEFAULT: u16 = 20;
const VERSION_ZIP64: u16 = 45;
/// Made by Unix (3), spec version 4.5.
const VERSION_MADE_BY: u16 = (3 << 8) | 45;
/// Regular file, rw-r--r--.
const EXTERNAL_ATTRIBUTES: u32 = 0o100_644 << 16;

/// Where the classic 32-bit/16-bit fields overflow (lowered in tests to exercise ZIP64).
#[derive(Debug, Clone, Copy)]
pub struct Zip64Thresholds {
    pub size: u64,
    pub entries: usize,
}

impl Default for Zip64Thresholds {
    fn default() -> Self {
        Zip64Thresholds {
            size: u64::from(u32::MAX),
            entries: usize::from(u16::MAX),
        }
    }
}

struct CentralEntry {
    name: String,
    crc: u32,
    compressed: u64,
    uncompressed: u64,
    offset: u64,
}

struct OpenEntry {
    name: String,
    offset: u64,
    crc: crc32fast::Hasher,
    uncompressed: u64,
    compressed: u64,
    /// Deflates written data; `None` until data comes after ready deflate data (a fresh
    /// encoder, so that no back-reference reaches across the copied data).
    encoder: Option<DeflateEncoder<Vec<u8>>>,
}

/// A ZIP archive being written into an internal buffer.
pub struct ZipStream {
    buffer: Vec<u8>,
    offset: u64,
    entries: Vec<CentralEntry>,
    open: Option<OpenEntry>,
    thresholds: Zip64Thresholds,
    dos_time: u16,
    dos_date: u16,
}

fn dos_timestamp(now: chrono::DateTime<chrono::Utc>) -> (u16, u16) {
    use chrono::{Datelike, Timelike};
    let time = (now.hour() << 11) | (now.minute() << 5) | (now.second() / 2);
    let year = now.year().clamp(1980, 2107) as u32 - 1980;
    let date = (year << 9) | (now.month() << 5) | now.day();
    (time as u16, date as u16)
}

impl Default for ZipStream {
    fn default() -> Self {
        ZipStream::with_thresholds(Zip64Thresholds::default())
    }
}

impl ZipStream {
    pub fn with_thresholds(thresholds: Zip64Thresholds) -> ZipStream {
        let (dos_time, dos_date) = dos_timestamp(chrono::Utc::now());
        ZipStream {
            buffer: Vec::new(),
            offset: 0,
            entries: Vec::new(),
            open: None,
            thresholds,
            dos_time,
            dos_date,
        }
    }

    fn put_u16(&mut self, value: u16) {
        self.buffer.extend_from_slice(&value.to_le_bytes());
    }

    fn put_u32(&mut self, value: u32) {
        self.buffer.extend_from_slice(&value.to_le_bytes());
    }

    fn put_u64(&mut self, value: u64) {
        self.buffer.extend_from_slice(&value.to_le_bytes());
    }

    /// Bytes written so far are moved out to the caller.
    pub fn take_output(&mut self) -> Vec<u8> {
        let output = std::mem::take(&mut self.buffer);
        self.offset += output.len() as u64;
        output
    }

    /// Position in the archive of the next byte.
    fn position(&self) -> u64 {
        self.offset + self.buffer.len() as u64
    }

    /// Starts a new entry (finishing the previous one).
    pub fn start_entry(&mut self, name: &str) -> std::io::Result<()> {
        self.finish_entry()?;
        let offset = self.position();
        self.put_u32(LOCAL_HEADER_SIGNATURE);
        self.put_u16(VERSION_DEFAULT);
        self.put_u16(FLAGS);
        self.put_u16(METHOD_DEFLATE);
        self.put_u16(self.dos_time);
        self.put_u16(self.dos_date);
        self.put_u32(0); // crc, in the data descriptor
        self.put_u32(0); // compressed size
        self.put_u32(0); // uncompressed size
        self.put_u16(name.len() as u16);
        self.put_u16(0); // extra field length
        self.buffer.extend_from_slice(name.as_bytes());
        self.open = Some(OpenEntry {
            name: name.to_owned(),
            offset,
            crc: crc32fast::Hasher::new(),
            uncompressed: 0,
            compressed: 0,
            encoder: None,
        });
        Ok(())
    }

    /// Appends data to the open entry.
    pub fn write(&mut self, data: &[u8]) -> std::io::Result<()> {
        let Some(entry) = self.open.as_mut() else {
            return Err(std::io::Error::other("no open zip entry"));
        };
        entry.crc.update(data);
        entry.uncompressed += data.len() as u64;
        let encoder = entry
            .encoder
            .get_or_insert_with(|| DeflateEncoder::new(Vec::new(), Compression::fast()));
        encoder.write_all(data)?;
        let produced = std::mem::take(encoder.get_mut());
        entry.compressed += produced.len() as u64;
        self.buffer.extend_from_slice(&produced);
        Ok(())
    }

    /// Appends raw deflate data to the open entry as it is: `deflated` must stop at a byte
    /// boundary without a final block and refer to nothing before its start; `crc32` and `size`
    /// describe its inflated bytes.
    pub fn copy_deflated(&mut self, deflated: &[u8], crc32: u32, size: u64) -> std::io::Result<()> {
        let Some(entry) = self.open.as_mut() else {
            return Err(std::io::Error::other("no open zip entry"));
        };
        if let Some(mut encoder) = entry.encoder.take() {
            // A sync flush ends what was deflated so far at a byte boundary, without a final
            // block.
            encoder.flush()?;
            let produced = std::mem::take(encoder.get_mut());
            entry.compressed += produced.len() as u64;
            self.buffer.extend_from_slice(&produced);
        }
        entry
            .crc
            .combine(&crc32fast::Hasher::new_with_initial_len(crc32, size));
        entry.uncompressed += size;
        entry.compressed += deflated.len() as u64;
        self.buffer.extend_from_slice(deflated);
        Ok(())
    }

    fn finish_entry(&mut self) -> std::io::Result<()> {
        let Some(mut entry) = self.open.take() else {
            return Ok(());
        };
        let rest = match entry.encoder.as_mut() {
            Some(encoder) => {
                encoder.try_finish()?;
                std::mem::take(encoder.get_mut())
            }
            None => FINAL_EMPTY_BLOCK.to_vec(),
        };
        entry.compressed += rest.len() as u64;
        self.buffer.extend_from_slice(&rest);
        let crc = entry.crc.clone().finalize();
        self.put_u32(DATA_DESCRIPTOR_SIGNATURE);
        self.put_u32(crc);
        if self.is_zip64_entry(entry.compressed, entry.uncompressed) {
            self.put_u64(entry.compressed);
            self.put_u64(entry.uncompressed);
        } else {
            self.put_u32(entry.compressed as u32);
            self.put_u32(entry.uncompressed as u32);
        }
        self.entries.push(CentralEntry {
            name: entry.name,
            crc,
            compressed: entry.compressed,
            uncompressed: entry.uncompressed,
            offset: entry.offset,
        });
        Ok(())
    }

    fn is_zip64_entry(&self, compressed: u64, uncompressed: u64) -> bool {
        compressed >= self.thresholds.size || uncompressed >= self.thresholds.size
    }

    /// Finishes the open entry and writes the central directory.
    pub fn finish(&mut self) -> std::io::Result<()> {
        self.finish_entry()?;
        let directory_start = self.position();
        let entries = std::mem::take(&mut self.entries);
        for entry in &entries {
            self.write_central_entry(entry);
        }
        let directory_size = self.position() - directory_start;
        let limit = self.thresholds.size;
        let needs_zip64 = entries.len() >= self.thresholds.entries
            || directory_start >= limit
            || directory_size >= limit;
        if needs_zip64 {
            let zip64_end = self.position();
            self.put_u32(ZIP64_END_SIGNATURE);
            self.put_u64(44); // size of the rest of this record
            self.put_u16(VERSION_MADE_BY);
            self.put_u16(VERSION_ZIP64);
            self.put_u32(0); // this disk
            self.put_u32(0); // disk of the central directory
            self.put_u64(entries.len() as u64);
            self.put_u64(entries.len() as u64);
            self.put_u64(directory_size);
            self.put_u64(directory_start);
            self.put_u32(ZIP64_LOCATOR_SIGNATURE);
            self.put_u32(0);
            self.put_u64(zip64_end);
            self.put_u32(1); // total disks
        }
        let count = if needs_zip64 {
            u16::MAX
        } else {
            entries.len() as u16
        };
        let clamp = |value: u64| if needs_zip64 { u32::MAX } else { value as u32 };
        self.put_u32(END_SIGNATURE);
        self.put_u16(0);
        self.put_u16(0);
        self.put_u16(count);
        self.put_u16(count);
        self.put_u32(clamp(directory_size));
        self.put_u32(clamp(directory_start));
        self.put_u16(0); // comment length
        Ok(())
    }

    fn write_central_entry(&mut self, entry: &CentralEntry) {
        let limit = self.thresholds.size;
        let mut extra = Vec::new();
        if entry.uncompressed >= limit {
            extra.extend_from_slice(&entry.uncompressed.to_le_bytes());
        }
        if entry.compressed >= limit {
            extra.extend_from_slice(&entry.compressed.to_le_bytes());
        }
        if entry.offset >= limit {
            extra.extend_from_slice(&entry.offset.to_le_bytes());
        }
        let zip64 = !extra.is_empty();
        let field = |value: u64| {
            if value >= limit {
                u32::MAX
            } else {
                value as u32
            }
        };
        self.put_u32(CENTRAL_HEADER_SIGNATURE);
        self.put_u16(VERSION_MADE_BY);
        self.put_u16(if zip64 {
            VERSION_ZIP64
        } else {
            VERSION_DEFAULT
        });
        self.put_u16(FLAGS);
        self.put_u16(METHOD_DEFLATE);
        self.put_u16(self.dos_time);
        self.put_u16(self.dos_date);
        self.put_u32(entry.crc);
        self.put_u32(field(entry.compressed));
        self.put_u32(field(entry.uncompressed));
        self.put_u16(entry.name.len() as u16);
        self.put_u16(if zip64 { extra.len() as u16 + 4 } else { 0 });
        self.put_u16(0); // comment length
        self.put_u16(0); // disk number
        self.put_u16(0); // internal attributes
        self.put_u32(EXTERNAL_ATTRIBUTES);
        self.put_u32(field(entry.offset));
        self.buffer.extend_from_slice(entry.name.as_bytes());
        if zip64 {
            self.put_u16(ZIP64_EXTRA_TAG);
            self.put_u16(extra.len() as u16);
            self.buffer.extend_from_slice(&extra);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Cursor, Read};

    fn archive(thresholds: Zip64Thresholds, entries: &[(&str, Vec<u8>)]) -> Vec<u8> {
        let mut zip = ZipStream::with_thresholds(thresholds);
        let mut bytes = Vec::new();
        for (name, data) in entries {
            zip.start_entry(name).unwrap();
            for piece in data.chunks(7) {
                zip.write(piece).unwrap();
                bytes.extend(zip.take_output());
            }
        }
        zip.finish().unwrap();
        bytes.extend(zip.take_output());
        bytes
    }

    fn read_back(bytes: Vec<u8>) -> Vec<(String, Vec<u8>)> {
        let mut reader = ::zip::ZipArchive::new(Cursor::new(bytes)).unwrap();
        (0..reader.len())
            .map(|at| {
                let mut file = reader.by_index(at).unwrap();
                let mut data = Vec::new();
                file.read_to_end(&mut data).unwrap();
                (file.name().to_owned(), data)
            })
            .collect()
    }

    #[test]
    fn a_plain_archive_reads_back() {
        let data = b"[{\"index\":0}]".repeat(100);
        let entries = read_back(archive(
            Zip64Thresholds::default(),
            &[("results.json", data.clone())],
        ));
        assert_eq!(entries, vec![("results.json".to_owned(), data)]);
    }

    #[test]
    fn an_empty_entry_reads_back() {
        let entries = read_back(archive(
            Zip64Thresholds::default(),
            &[("errors.json", b"[]".to_vec())],
        ));
        assert_eq!(entries[0].1, b"[]");
    }

    #[test]
    fn zip64_records_are_written_and_read_when_sizes_and_offsets_overflow() {
        let thresholds = Zip64Thresholds {
            size: 10,
            entries: 2,
        };
        let first = b"first entry, long enough to overflow".to_vec();
        let second = b"second".to_vec();
        let third = b"third entry starts past the offset threshold".to_vec();
        let bytes = archive(
            thresholds,
            &[
                ("a.json", first.clone()),
                ("b.json", second.clone()),
                ("c.json", third.clone()),
            ],
        );
        assert!(
            bytes
                .windows(4)
                .any(|w| w == ZIP64_END_SIGNATURE.to_le_bytes()),
            "zip64 end record written"
        );
        let entries = read_back(bytes);
        assert_eq!(
            entries
                .iter()
                .map(|(_, data)| data.clone())
                .collect::<Vec<_>>(),
            vec![first, second, third]
        );
    }

    /// Checks an archive with Python's `zipfile` and Info-ZIP's `unzip -t`, the tools users open
    /// downloads with; returns what Python read.
    fn check_with_standard_tools(bytes: &[u8]) -> String {
        let path = std::env::temp_dir().join(format!("userhub-zip-{}.zip", std::process::id()));
        std::fs::write(&path, bytes).unwrap();
        let python = std::process::Command::new("python3")
            .args(["-c", "import sys, zipfile; z = zipfile.ZipFile(sys.argv[1]); assert z.testzip() is None; \
                 print(';'.join(n + '=' + z.read(n).decode() for n in z.namelist()))"])
            .arg(&path)
            .output()
            .expect("python3 is needed to check zips");
        assert!(
            python.status.success(),
            "{}",
            String::from_utf8_lossy(&python.stderr)
        );
        if let Ok(unzip) = std::process::Command::new("unzip")
            .arg("-tq")
            .arg(&path)
            .output()
        {
            assert!(
                unzip.status.success(),
                "unzip: {}",
                String::from_utf8_lossy(&unzip.stdout)
            );
        }
        let _ = std::fs::remove_file(&path);
        String::from_utf8(python.stdout).unwrap().trim().to_owned()
    }

    #[test]
    fn python_and_unzip_read_plain_and_zip64_archives() {
        let plain = archive(
            Zip64Thresholds::default(),
            &[("results.json", b"[1,2]".to_vec())],
        );
        assert_eq!(check_with_standard_tools(&plain), "results.json=[1,2]");
        let forced = Zip64Thresholds {
            size: 4,
            entries: 1,
        };
        let zip64 = archive(
            forced,
            &[
                ("a.json", b"[\"zip64 sized\"]".to_vec()),
                ("b.json", b"[]".to_vec()),
            ],
        );
        assert_eq!(
            check_with_standard_tools(&zip64),
            "a.json=[\"zip64 sized\"];b.json=[]"
        );
    }

    /// Raw deflate of `text` that stops at a byte boundary without a final block.
    fn ready_deflate(text: &[u8]) -> Vec<u8> {
        let mut encoder = DeflateEncoder::new(Vec::new(), Compression::fast());
        encoder.write_all(text).unwrap();
        encoder.flush().unwrap();
        std::mem::take(encoder.get_mut())
    }

    #[test]
    fn ready_deflate_data_mixes_with_written_data_in_one_entry() {
        let blob = b"{\"index\":0,\"text\":\"repeated repeated repeated\"}".repeat(40);
        let mut zip = ZipStream::default();
        zip.start_entry("results.json").unwrap();
        zip.write(b"[\n").unwrap();
        zip.copy_deflated(
            &ready_deflate(&blob),
            crc32fast::hash(&blob),
            blob.len() as u64,
        )
        .unwrap();
        zip.write(b",\nrepeated repeated\n").unwrap();
        zip.copy_deflated(
            &ready_deflate(&blob),
            crc32fast::hash(&blob),
            blob.len() as u64,
        )
        .unwrap();
        zip.copy_deflated(&ready_deflate(b"tail"), crc32fast::hash(b"tail"), 4)
            .unwrap();
        zip.start_entry("errors.json").unwrap();
        zip.copy_deflated(&ready_deflate(b"[]"), crc32fast::hash(b"[]"), 2)
            .unwrap();
        zip.finish().unwrap();
        let bytes = zip.take_output();
        let mut expected = b"[\n".to_vec();
        expected.extend_from_slice(&blob);
        expected.extend_from_slice(b",\nrepeated repeated\n");
        expected.extend_from_slice(&blob);
        expected.extend_from_slice(b"tail");
        assert_eq!(
            read_back(bytes.clone()),
            vec![
                ("results.json".to_owned(), expected.clone()),
                ("errors.json".to_owned(), b"[]".to_vec())
            ]
        );
        let expected = String::from_utf8(expected).unwrap();
        assert_eq!(
            check_with_standard_tools(&bytes),
            format!("results.json={expected};errors.json=[]")
        );
    }

    #[test]
    fn more_than_65535_entries_use_zip64() {
        let mut zip = ZipStream::default();
        for at in 0..70_000 {
            zip.start_entry(&format!("{at}.json")).unwrap();
            zip.write(b"{}").unwrap();
        }
        zip.finish().unwrap();
        let bytes = zip.take_output();
        let reader = ::zip::ZipArchive::new(Cursor::new(bytes)).unwrap();
        assert_eq!(reader.len(), 70_000);
    }
}
