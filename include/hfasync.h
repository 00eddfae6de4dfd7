/*
 * hfasync.h - umbrella header: fetch model files from the Hugging Face Hub without ever
 * blocking the threads that run inference.
 */
#ifndef HFASYNC_H
#define HFASYNC_H

#include "hf/error.h"
#include "hf/formats.h"
#include "hf/future.h"
#include "hf/runtime.h"
#include "hf/hub.h"
#include "hf/model.h"

#define HFASYNC_VERSION "0.1.0"

#endif /* HFASYNC_H */
