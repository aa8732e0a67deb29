#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| kockpit::fuzzing::cloudwatch_answers(data));
