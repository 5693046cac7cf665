//! Everyday components (Kamaelia's `Kamaelia.Util`, `Kamaelia.File` and console components).

pub mod backplane;
pub mod chargen;
pub mod clock;
pub mod console;
pub mod fanout;
pub mod file;
pub mod one_shot;
pub mod pass_through;
pub mod pure_transformer;
