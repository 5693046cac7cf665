//! The service registry (Kamaelia's coordinating assistant tracker): named services, each an
//! inbox of some component, and named tracked values. One registry per scheduler.

use std::any::Any;
use std::collections::BTreeMap;

use crate::error::Error;
use crate::ids::ComponentId;

#[derive(Default)]
pub(crate) struct Registry {
    services: BTreeMap<String, (ComponentId, String)>,
    values: BTreeMap<String, Box<dyn Any>>,
}

impl Registry {
    pub fn register(&mut self, name: &str, service: (ComponentId, String)) -> Result<(), Error> {
        if self.services.contains_key(name) {
            return Err(Error::ServiceAlreadyExists(name.to_string()));
        }
        self.services.insert(name.to_string(), service);
        Ok(())
    }

    pub fn retrieve(&self, name: &str) -> Result<(ComponentId, String), Error> {
        self.services
            .get(name)
            .cloned()
            .ok_or_else(|| Error::ServiceNotFound(name.to_string()))
    }

    pub fn deregister(&mut self, name: &str) -> Result<(), Error> {
        self.services
            .remove(name)
            .map(|_| ())
            .ok_or_else(|| Error::MultipleServiceDeletion(name.to_string()))
    }

    pub fn service_names(&self) -> Vec<String> {
        self.services.keys().cloned().collect()
    }

    pub fn track(&mut self, name: &str, value: Box<dyn Any>) -> Result<(), Error> {
        if self.values.contains_key(name) {
            return Err(Error::NamespaceClash(name.to_string()));
        }
        self.values.insert(name.to_string(), value);
        Ok(())
    }

    pub fn update(&mut self, name: &str, value: Box<dyn Any>) -> Result<(), Error> {
        match self.values.get_mut(name) {
            Some(v) => {
                *v = value;
                Ok(())
            }
            None => Err(Error::AccessToUndeclaredTrackedVariable(name.to_string())),
        }
    }

    pub fn retrieve_value<T: Any + Clone>(&self, name: &str) -> Result<T, Error> {
        self.values
            .get(name)
            .and_then(|v| v.downcast_ref::<T>())
            .cloned()
            .ok_or_else(|| Error::AccessToUndeclaredTrackedVariable(name.to_string()))
    }

    pub fn value_names(&self) -> Vec<String> {
        self.values.keys().cloned().collect()
    }
}
