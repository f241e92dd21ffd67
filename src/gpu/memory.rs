//! Buffers in and out: filled buffers (errors, not panics, on a lost device), uploads, output
//! and readback buffers, and the blocking and async readbacks.

use super::GpuContext;
use crate::error::{Error, Result};

impl GpuContext {
    /// A STORAGE buffer holding `data`.
    pub(crate) fn upload(&self, name: &str, data: &[u8]) -> Result<wgpu::Buffer> {
        self.buffer_with_data(name, wgpu::BufferUsages::STORAGE, data)
    }

    /// A STORAGE buffer the kernels write and the host copies out.
    pub(crate) fn output_buffer(&self, name: &str, size: u64) -> Result<wgpu::Buffer> {
        self.scoped(&format!("allocating {name}"), || {
            Ok(self.device().create_buffer(&wgpu::BufferDescriptor {
                label: Some(name),
                size,
                usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
                mapped_at_creation: false,
            }))
        })
    }

    /// A buffer to map for reading.
    pub(crate) fn staging(&self, size: u64) -> Result<wgpu::Buffer> {
        self.scoped("allocating the readback buffer", || {
            Ok(self.device().create_buffer(&wgpu::BufferDescriptor {
                label: Some("staging"),
                size,
                usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            }))
        })
    }

    /// A buffer filled with `data` at creation. Unlike wgpu's `create_buffer_init`, a lost
    /// device or an invalid buffer is an error here, not a panic.
    pub(crate) fn buffer_with_data(
        &self,
        label: &str,
        usage: wgpu::BufferUsages,
        data: &[u8],
    ) -> Result<wgpu::Buffer> {
        self.check_health()?;
        self.scoped(label, || self.filled_buffer(label, usage, data))
    }

    /// `buffer_with_data` without an error scope of its own (the caller holds one).
    pub(super) fn filled_buffer(
        &self,
        label: &str,
        usage: wgpu::BufferUsages,
        data: &[u8],
    ) -> Result<wgpu::Buffer> {
        let size = (data.len() as u64)
            .next_multiple_of(wgpu::COPY_BUFFER_ALIGNMENT)
            .max(wgpu::COPY_BUFFER_ALIGNMENT);
        let buffer = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some(label),
            size,
            usage,
            mapped_at_creation: true,
        });
        {
            let mut view = buffer.get_mapped_range_mut(..).map_err(|e| {
                Error::Device(format!("writing {label}: the buffer is not usable ({e})"))
            })?;
            view.slice(..data.len()).copy_from_slice(data);
        }
        buffer.unmap();
        Ok(buffer)
    }

    /// Waits for `index` and maps `staging` for reading, blocking at most the context's timeout.
    pub(crate) fn read_back(
        &self,
        staging: &wgpu::Buffer,
        index: wgpu::SubmissionIndex,
    ) -> Result<Vec<u8>> {
        let (tx, rx) = std::sync::mpsc::channel();
        staging.map_async(wgpu::MapMode::Read, .., move |r| {
            let _ = tx.send(r);
        });
        self.device
            .poll(wgpu::PollType::Wait {
                submission_index: Some(index),
                timeout: Some(self.timeout),
            })
            .map_err(|e| Error::Device(format!("waiting for the GPU: {e}")))?;
        self.check_health()?;
        match rx.recv_timeout(self.timeout) {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(Error::Device(format!("mapping the result: {e}"))),
            Err(_) => return Err(Error::Device("mapping the result timed out".into())),
        }
        let bytes = staging
            .get_mapped_range(..)
            .map_err(|e| Error::Device(format!("reading the result: {e}")))?
            .to_vec();
        staging.unmap();
        Ok(bytes)
    }

    /// Async twin of `read_back`: drives the device with non-blocking polls, yielding to the
    /// executor between them, so it never blocks the executor's thread.
    pub(crate) async fn read_back_async(&self, staging: &wgpu::Buffer) -> Result<Vec<u8>> {
        let (tx, mut rx) = futures::channel::oneshot::channel();
        staging.map_async(wgpu::MapMode::Read, .., move |r| {
            let _ = tx.send(r);
        });
        let start = std::time::Instant::now();
        let mapped = loop {
            self.device
                .poll(wgpu::PollType::Poll)
                .map_err(|e| Error::Device(format!("polling the GPU: {e}")))?;
            self.check_health()?;
            match rx.try_recv() {
                Ok(Some(r)) => break r,
                Ok(None) => {}
                Err(_) => return Err(Error::Device("the mapping callback was dropped".into())),
            }
            if start.elapsed() > self.timeout {
                return Err(Error::Device("waiting for the GPU timed out".into()));
            }
            YieldNow(false).await;
        };
        mapped.map_err(|e| Error::Device(format!("mapping the result: {e}")))?;
        let bytes = staging
            .get_mapped_range(..)
            .map_err(|e| Error::Device(format!("reading the result: {e}")))?
            .to_vec();
        staging.unmap();
        Ok(bytes)
    }
}

/// Returns `Pending` once, waking itself: lets the executor run other tasks.
struct YieldNow(bool);

impl std::future::Future for YieldNow {
    type Output = ();
    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<()> {
        if self.0 {
            std::task::Poll::Ready(())
        } else {
            self.0 = true;
            cx.waker().wake_by_ref();
            std::task::Poll::Pending
        }
    }
}
