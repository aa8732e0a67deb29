#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| kockpit::fuzzing::flow_records(data));
