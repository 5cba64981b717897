// The Uppy the browser test loads: @uppy/core and @uppy/aws-s3 exactly as npm ships
// them, bundled into one ES module so the test page needs no import map.
export { default as Uppy } from '@uppy/core'
export { default as AwsS3 } from '@uppy/aws-s3'
