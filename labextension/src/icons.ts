import { LabIcon } from '@jupyterlab/ui-components';

import remoteSvgStr from '../style/icons/remote.svg';

/** Sidebar icon: a laptop linked to a server. */
export const remoteIcon = new LabIcon({
  name: 'jupyterlab-remote:remote',
  svgstr: remoteSvgStr
});
