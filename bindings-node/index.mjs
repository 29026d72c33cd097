// ES module entry point: the same objects as `require('vm-system')`.
import vmSystem from './index.js'

export const { VmSystem, ERROR_CODES, __napiBindingTarget } = vmSystem
export default vmSystem
