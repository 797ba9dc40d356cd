//! `policy`: SaaS app catalogue, classifier, context model and rule language (see issue 4).
