// Reference data every screen needs, loaded once per page load.
import { get } from './api'

const cache = {}
function once(key, loader) {
  if (!cache[key]) cache[key] = loader().catch((e) => { delete cache[key]; throw e })
  return cache[key]
}
export const departments = () => once('departments', () => get('/api/departments'))
export const catalogItems = () => once('catalog', () => get('/api/catalog/items'))
export const regions = () => once('regions', () => get('/api/regions'))
export const geojson = (regionId) => once('geo' + regionId, () => get(`/api/regions/${regionId}/geojson`))
// Screen settings from the server (map tiles); an older server without them means none.
export const screenConfig = () => once('config', () => get('/api/screens/config').catch(() => ({ tile_url: null })))

// What each role may open (the server refuses the rest anyway).
export const ROLE_SCREENS = {
  operator: ['home', 'intake', 'queue', 'visits', 'cases', 'supervision', 'command'],
  admin: ['home', 'intake', 'queue', 'visits', 'cases', 'supervision', 'command', 'admin'],
  handler: ['home', 'inbox', 'cases'],
  mediator: ['home', 'intake', 'inbox', 'cases'],
  supervisor: ['home', 'supervision', 'cases', 'command'],
  leader: ['home', 'command', 'supervision', 'cases'],
  grid_worker: ['grid'],
}
export function canOpen(role, screen) {
  return (ROLE_SCREENS[role] || []).includes(screen)
}
