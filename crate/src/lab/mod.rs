//! The experiments lab: training techniques run one against another, so their benefit is measured, not
//! claimed. [`distill`] trains a student from a teacher's soft targets beside the same student trained
//! without it; [`search`] runs grid and random hyperparameter searches with successive halving. Both drive
//! the one trainer ([`crate::model::train::TrainLoop`]) on the CPU and hold only the models they train.

pub mod distill;
pub mod overfit;
pub mod search;
