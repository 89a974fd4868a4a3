// A dedicated worker of the benign app (TensorBoard draws its charts in one).
postMessage('ran');
