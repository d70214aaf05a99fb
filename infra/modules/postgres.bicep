// Azure Database for PostgreSQL Flexible Server 16, Entra ID authentication only.
//
// Password authentication is disabled: nobody holds a database password. The
// deploying principal is the Entra administrator; the postprovision hook uses
// it to create the api identity's role (pgaadauth_create_principal_with_oid)
// and to run migrations. Written against the resource provider directly (not
// the AVM module) so the child resources can be serialised: the server
// rejects concurrent child operations ("ServerIsBusy").

param name string
param location string = resourceGroup().location
param tags object = {}
param skuName string = 'Standard_B2s'
param skuTier string = 'Burstable'
param databaseName string = 'synapse'
param storageSizeGB int = 32

@description('Object id of the Entra administrator (the principal running azd). Empty: no administrator yet.')
param administratorObjectId string = ''
param administratorName string = ''
param administratorType string = 'User'

resource server 'Microsoft.DBforPostgreSQL/flexibleServers@2024-08-01' = {
  name: name
  location: location
  tags: tags
  sku: {
    name: skuName
    tier: skuTier
  }
  properties: {
    version: '16'
    authConfig: {
      activeDirectoryAuth: 'Enabled'
      passwordAuth: 'Disabled'
      tenantId: tenant().tenantId
    }
    storage: {
      storageSizeGB: storageSizeGB
      autoGrow: 'Enabled'
    }
    backup: {
      backupRetentionDays: 7
      geoRedundantBackup: 'Disabled'
    }
    highAvailability: {
      mode: 'Disabled'
    }
    network: {
      // Flex Consumption has no fixed outbound addresses without VNet integration,
      // so access is limited to Azure (rule below) plus Entra auth; see docs/deploy.md.
      publicNetworkAccess: 'Enabled'
    }
  }
}

resource database 'Microsoft.DBforPostgreSQL/flexibleServers/databases@2024-08-01' = {
  parent: server
  name: databaseName
  properties: {
    charset: 'UTF8'
    collation: 'en_US.utf8'
  }
}

resource allowAzureServices 'Microsoft.DBforPostgreSQL/flexibleServers/firewallRules@2024-08-01' = {
  parent: server
  name: 'AllowAllAzureServicesAndResourcesWithinAzureIps'
  properties: {
    startIpAddress: '0.0.0.0'
    endIpAddress: '0.0.0.0'
  }
  dependsOn: [
    database
  ]
}

resource administrator 'Microsoft.DBforPostgreSQL/flexibleServers/administrators@2024-08-01' = if (!empty(administratorObjectId)) {
  parent: server
  name: administratorObjectId
  properties: {
    principalType: administratorType
    principalName: administratorName
    tenantId: tenant().tenantId
  }
  dependsOn: [
    allowAzureServices
  ]
}

output name string = server.name
output fqdn string = server.properties.fullyQualifiedDomainName
output databaseName string = database.name
