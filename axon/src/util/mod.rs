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

pub use backplane::{Backplane, PublishTo, SubscribeTo};
pub use chargen::Chargen;
pub use clock::Clock;
pub use console::{ConsoleEchoer, ConsoleReader};
pub use fanout::{Cloner, Fanout};
pub use file::{SimpleFileWriter, TriggeredFileReader, WholeFileWriter};
pub use one_shot::OneShot;
pub use pass_through::PassThrough;
pub use pure_transformer::PureTransformer;
